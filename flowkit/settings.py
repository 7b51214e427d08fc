"""One settings object, resolved when it is asked for, never at import.

Precedence, highest first: explicit arguments > ``FLOWKIT_*`` environment variables >
``[tool.flowkit]`` in the nearest ``pyproject.toml`` above the working directory > defaults.

``retry`` is how many times every step without its own ``@retry`` is retried (0: not at
all; lost tasks are retried once regardless). ``alerts`` lists alert sinks, each a table
such as ``{kind = "webhook", url = "https://..."}`` or ``{kind = "command", argv = [...]}``
(``FLOWKIT_ALERTS`` takes the same list as JSON); see :mod:`flowkit.runtime.alerts`.
``hooks`` enables run hooks, by name (``[tool.flowkit.hooks] mlflow = {experiment = "x"}``;
``FLOWKIT_HOOKS`` takes the same table as JSON); see :mod:`flowkit.runtime.hooks`.

``worker_linger`` (a duration, default ``0``: off) is how long the spare worker a
command-line run leaves behind waits for the next run here, which takes it over instead of
starting an interpreter (``5m``, say); see :mod:`flowkit.executor.rendezvous`.

``sla_learned`` (default true) lets a task or run without ``@sla`` be alerted on when it
takes much longer than the flow's recent runs; see :mod:`flowkit.runtime.sla`.

``gc_*`` are ``flowkit gc``'s retention rules and grace period (see :mod:`flowkit.store.gc`):
``gc_keep_last`` (runs per flow), ``gc_keep_newer_than`` and ``gc_grace`` (durations such as
``30d``, ``12h``, ``90m`` or a number of seconds) and ``gc_keep_tags`` (a list of tags;
``FLOWKIT_GC_KEEP_TAGS`` takes them comma-separated).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from typing import Any

from flowkit.errors import FlowkitError
from flowkit.fastdata import dataclass, field, fields


@dataclass(frozen=True)
class Settings:
    """Everything a run may be configured with; ``source`` says where each value came from."""

    store: str
    max_workers: int
    source: Mapping[str, str]
    retry: int = 0
    alerts: tuple[Mapping[str, Any], ...] = ()
    #: Run hooks every run enables, by name, with their arguments (see flowkit.runtime.hooks).
    hooks: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    gc_keep_last: int | None = None
    #: Seconds.
    gc_keep_newer_than: float | None = None
    gc_keep_tags: tuple[str, ...] = ()
    #: Seconds.
    gc_grace: float = 3600.0
    #: Learn a task's or run's SLA from past runs when it has no @sla (flowkit.runtime.sla).
    sla_learned: bool = True
    #: Seconds a spare worker a command-line run leaves waits for the next (0, the default:
    #: none is left; see flowkit.executor.rendezvous).
    worker_linger: float = 0.0

    @staticmethod
    def resolve(
        explicit: Mapping[str, Any] | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
    ) -> Settings:
        """Resolve every setting by the documented precedence."""
        env = os.environ if environ is None else environ
        here = os.getcwd() if cwd is None else os.fspath(cwd)
        project_file = find_pyproject(here)
        project = _project_table(project_file) if project_file else {}
        defaults = _defaults(env)
        values: dict[str, Any] = {}
        source: dict[str, str] = {}
        for f in fields(Settings):
            if f.name == "source":
                continue
            env_name = f"FLOWKIT_{f.name.upper()}"
            if explicit and explicit.get(f.name) is not None:
                values[f.name], source[f.name] = explicit[f.name], "argument"
            elif env_name in env:
                values[f.name], source[f.name] = _not_empty(env_name, env[env_name]), env_name
            elif f.name in project:
                values[f.name] = project[f.name]
                source[f.name] = f"[tool.flowkit] in {project_file}"
                if f.name == "store" and project_file is not None:
                    folder = os.path.dirname(project_file)
                    values[f.name] = _relative_to(folder, str(project[f.name]))
            else:
                values[f.name], source[f.name] = defaults[f.name], "default"
        values["max_workers"] = _positive_int("max_workers", values["max_workers"], source)
        values["retry"] = _count("retry", values["retry"], source)
        values["alerts"] = _alerts(values["alerts"], source)
        values["hooks"] = _hooks(values["hooks"], source)
        _gc_settings(values, source)
        values["sla_learned"] = _flag("sla_learned", values["sla_learned"], source)
        values["store"] = str(values["store"])
        return Settings(source=source, **values)


# Paths here are strings (os.path), not pathlib: every process that opens a store resolves
# settings, and pathlib's imports (urllib.parse, ipaddress, fnmatch, ...) cost it ~5 ms.


def find_pyproject(start: str) -> str | None:
    """The nearest ``pyproject.toml`` in the folder ``start`` or above it, if any."""
    folder = start
    while True:
        candidate = os.path.join(folder, "pyproject.toml")
        if os.path.isfile(candidate):
            return candidate
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent


def _project_table(path: str) -> dict[str, Any]:
    import tomllib  # here: ~10 ms of imports, for a project that has a pyproject.toml

    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise FlowkitError(
            f"could not read settings from {path}: {exc}",
            "fix the file's TOML syntax, or set FLOWKIT_* environment variables instead",
        ) from None
    table = data.get("tool", {}).get("flowkit", {})
    if not isinstance(table, dict):
        raise FlowkitError(f"[tool.flowkit] in {path} must be a table")
    known = {f.name for f in fields(Settings)} - {"source"}
    unknown = sorted(set(table) - known)
    if unknown:
        raise FlowkitError(
            f"unknown setting(s) {', '.join(unknown)} in [tool.flowkit] of {path}",
            f"known settings are: {', '.join(sorted(known))}",
        )
    return table


def default_store(env: Mapping[str, str]) -> str:
    """The per-user store, used when no flag, variable or project names one. flowkit makes
    it private to its user when it creates it (see :func:`flowkit.store.open.backend_for`)."""
    data_home = env.get("XDG_DATA_HOME") or os.path.join(_expand_user("~"), ".local", "share")
    return os.path.normpath(os.path.join(data_home, "flowkit", "store"))


def _defaults(env: Mapping[str, str]) -> dict[str, Any]:
    return {
        "store": default_store(env),
        "max_workers": os.cpu_count() or 1,
        "retry": 0,
        "alerts": (),
        "hooks": {},
        "gc_keep_last": None,
        "gc_keep_newer_than": None,
        "gc_keep_tags": (),
        "gc_grace": 3600.0,
        "sla_learned": True,
        "worker_linger": 0.0,
    }


def _relative_to(base: str, value: str) -> str:
    if "://" in value:
        return value
    path = _expand_user(value)
    return (
        os.path.normpath(path)
        if os.path.isabs(path)
        else os.path.realpath(os.path.join(base, path))
    )


def _expand_user(path: str) -> str:
    """``path`` with a leading ``~`` or ``~user`` expanded; the error pathlib raises when
    there is no such home (rather than a folder named ``~`` made in the working directory)."""
    expanded = os.path.expanduser(path)
    if expanded.startswith("~"):
        raise RuntimeError("Could not determine home directory.")
    return expanded


def _not_empty(env_name: str, value: str) -> str:
    # An empty variable is more often a mistake (an unset shell variable expanded) than a wish
    # for the default, and falling back silently would send a run somewhere else.
    if not value.strip():
        raise FlowkitError(
            f"{env_name} is set but empty",
            f"give it a value, or unset it (unset {env_name}) to use the project's "
            "[tool.flowkit] setting or the default",
        )
    return value


def _positive_int(name: str, value: Any, source: Mapping[str, str]) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if number < 1:
        raise FlowkitError(
            f"setting {name} must be a positive integer, got {value!r} (from {source[name]})",
            f"set {name} to 1 or more",
        )
    return number


def _count(name: str, value: Any, source: Mapping[str, str]) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = -1
    if number < 0 or isinstance(value, bool):
        raise FlowkitError(
            f"setting {name} must be a whole number >= 0, got {value!r} (from {source[name]})",
            f"set {name} to 0 or more",
        )
    return number


def _flag(name: str, value: Any, source: Mapping[str, str]) -> bool:
    """true or false (a variable may also say 1/0, yes/no, on/off)."""
    if isinstance(value, bool):
        return value
    words = {"true": True, "1": True, "yes": True, "on": True}
    words |= {"false": False, "0": False, "no": False, "off": False}
    if isinstance(value, str) and value.strip().lower() in words:
        return words[value.strip().lower()]
    raise FlowkitError(
        f"setting {name} must be true or false, got {value!r} (from {source[name]})",
        f"set {name} = true or {name} = false (FLOWKIT_{name.upper()}=false)",
    )


def _alerts(value: Any, source: Mapping[str, str]) -> tuple[Mapping[str, Any], ...]:
    """Alert sink tables: a TOML array of tables, or the same as JSON in ``FLOWKIT_ALERTS``."""
    hint = (
        'give a list of tables, e.g. [{"kind": "webhook", "url": "https://..."}] '
        '(kinds: webhook, command, or a "flowkit.alerts" entry point)'
    )
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise FlowkitError(
                f"setting alerts is not valid JSON ({exc}) (from {source['alerts']})", hint
            ) from None
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list | tuple) or not all(
        isinstance(v, dict) and isinstance(v.get("kind"), str) for v in value
    ):
        raise FlowkitError(
            f"setting alerts must be a list of tables with a 'kind', got {value!r} "
            f"(from {source['alerts']})",
            hint,
        )
    return tuple(dict(v) for v in value)


def _hooks(value: Any, source: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """Run hooks: a table of tables (``[tool.flowkit.hooks] mlflow = {experiment = "x"}``), or
    the same as JSON in ``FLOWKIT_HOOKS``."""
    hint = 'give a table of tables, e.g. {"mlflow": {"experiment": "ranking"}}'
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise FlowkitError(
                f"setting hooks is not valid JSON ({exc}) (from {source['hooks']})", hint
            ) from None
    if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
        raise FlowkitError(
            f"setting hooks must be a table of tables, got {value!r} (from {source['hooks']})",
            hint,
        )
    return {str(k): dict(v) for k, v in value.items()}


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
DURATION_HINT = "write a duration such as 30d, 12h, 90m, 1h30m or 45s (a bare number is seconds)"


def parse_duration(text: str) -> float | None:
    """Seconds in a duration such as ``30d``, ``12h``, ``1h30m`` or ``45`` (seconds); None if
    ``text`` is not one."""
    text = text.strip().lower()
    try:
        seconds = float(text)
    except ValueError:
        parts = _DURATION_PART.findall(text)
        if not parts or "".join(f"{n}{u}" for n, u in parts) != text.replace(" ", ""):
            return None
        seconds = sum(float(n) * _UNIT_SECONDS[u] for n, u in parts)
    return seconds if seconds >= 0 and seconds != float("inf") else None


def _gc_settings(values: dict[str, Any], source: Mapping[str, str]) -> None:
    keep_last = values["gc_keep_last"]
    if keep_last is not None:
        values["gc_keep_last"] = _count("gc_keep_last", keep_last, source)
    for name in ("gc_keep_newer_than", "gc_grace", "worker_linger"):
        value = values[name]
        if value is None or (isinstance(value, int | float) and not isinstance(value, bool)):
            seconds = None if value is None else float(value)
        else:
            seconds = parse_duration(value) if isinstance(value, str) else None
            if seconds is None:
                raise FlowkitError(
                    f"setting {name} is not a duration: {value!r} (from {source[name]})",
                    DURATION_HINT,
                )
        if seconds is not None and not 0 <= seconds < float("inf"):
            raise FlowkitError(
                f"setting {name} must not be negative, got {value!r} (from {source[name]})",
                DURATION_HINT,
            )
        values[name] = seconds
    tags = values["gc_keep_tags"]
    if isinstance(tags, str):
        tags = [t.strip() for t in tags.split(",") if t.strip()]
    if not isinstance(tags, list | tuple) or not all(isinstance(t, str) for t in tags):
        raise FlowkitError(
            f"setting gc_keep_tags must be a list of tags, got {tags!r} "
            f"(from {source['gc_keep_tags']})",
            'give a list such as ["prod", "paper"] (FLOWKIT_GC_KEEP_TAGS=prod,paper)',
        )
    values["gc_keep_tags"] = tuple(tags)


def current_user() -> str | None:
    """Who starts a run, as its record names them: ``FLOWKIT_USER``, else the login name
    (``LOGNAME``, ``USER``, ``LNAME``, ``USERNAME``, then the password database); None if
    nothing says."""
    # getpass.getuser's lookup, without importing getpass (and termios, for its prompts)
    for name in ("FLOWKIT_USER", "LOGNAME", "USER", "LNAME", "USERNAME"):
        user = os.environ.get(name)
        if user:
            return user
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_name
    except (ImportError, KeyError):  # no password entry (a bare container), or no pwd module
        return None
