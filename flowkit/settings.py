"""One settings object, resolved when it is asked for, never at import.

Precedence, highest first: explicit arguments > ``FLOWKIT_*`` environment variables >
``[tool.flowkit]`` in the nearest ``pyproject.toml`` above the working directory > defaults.

``retry`` is how many times every step without its own ``@retry`` is retried (0: not at
all; lost tasks are retried once regardless). ``alerts`` lists alert sinks, each a table
such as ``{kind = "webhook", url = "https://..."}`` or ``{kind = "command", argv = [...]}``
(``FLOWKIT_ALERTS`` takes the same list as JSON); see :mod:`flowkit.runtime.alerts`.
"""

from __future__ import annotations

import getpass
import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from flowkit.errors import FlowkitError


@dataclass(frozen=True)
class Settings:
    """Everything a run may be configured with; ``source`` says where each value came from."""

    store: str
    max_workers: int
    source: Mapping[str, str]
    retry: int = 0
    alerts: tuple[Mapping[str, Any], ...] = ()

    @staticmethod
    def resolve(
        explicit: Mapping[str, Any] | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> Settings:
        """Resolve every setting by the documented precedence."""
        env = os.environ if environ is None else environ
        here = Path.cwd() if cwd is None else cwd
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
                    values[f.name] = _relative_to(project_file.parent, str(project[f.name]))
            else:
                values[f.name], source[f.name] = defaults[f.name], "default"
        values["max_workers"] = _positive_int("max_workers", values["max_workers"], source)
        values["retry"] = _count("retry", values["retry"], source)
        values["alerts"] = _alerts(values["alerts"], source)
        values["store"] = str(values["store"])
        return Settings(source=source, **values)


def find_pyproject(start: Path) -> Path | None:
    """The nearest ``pyproject.toml`` at or above ``start``, if any."""
    for folder in (start, *start.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def _project_table(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
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
    data_home = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return str(Path(data_home) / "flowkit" / "store")


def _defaults(env: Mapping[str, str]) -> dict[str, Any]:
    return {
        "store": default_store(env),
        "max_workers": os.cpu_count() or 1,
        "retry": 0,
        "alerts": (),
    }


def _relative_to(base: Path, value: str) -> str:
    if "://" in value:
        return value
    path = Path(value).expanduser()
    return str(path if path.is_absolute() else (base / path).resolve())


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


def current_user() -> str | None:
    """Who starts a run, as its record names them: ``FLOWKIT_USER``, else the login name
    (``LOGNAME``, ``USER``, ``LNAME``, ``USERNAME``, then the password database); None if
    nothing says."""
    try:
        return os.environ.get("FLOWKIT_USER") or getpass.getuser()
    except (KeyError, OSError):  # no such variable and no password entry (a bare container)
        return None
