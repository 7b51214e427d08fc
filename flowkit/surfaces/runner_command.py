"""How ``Runner``'s and ``NBRunner``'s keyword arguments become a run's: Metaflow's names for
flowkit's options, the options that come before the command (``--config``, ``--config-value``,
``--branch``, ``--production``), and the arguments of ``python flow.py run|resume``."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from flowkit.authoring.names import RUN_OPTIONS, RunOption
from flowkit.errors import FlowkitError

_BY_KEYWORD = {o.keyword: o for o in RUN_OPTIONS if o.flag}
#: Metaflow's names for flowkit's options (``Runner(decospecs=[...])``, ``resume(step_to_rerun=)``).
ALIASES = {"decospecs": "with_decorators", "with": "with_decorators", "step_to_rerun": "step"}
#: What the Runner passes itself (or, for a preview, cannot return), so a caller may not.
_OWN = {"runner_attribute_file", "dry_run"}
#: Why a runner takes no such option.
NOT_TAKEN = {
    "runner_attribute_file": "the Runner gives it itself",
    "dry_run": "a Runner returns a run, and a dry run starts none; preview with "
    "flowkit.run(flow, reuse=True, dry_run=True)",
}
#: Metaflow's options before the command that a flow file's command line has (the configs'
#: for a flow with configs, ``@project``'s for a project), and how each takes its value:
#: ``pairs`` are ``[(name, file or value), ...]`` (or a dict of name -> file or value).
TOP_LEVEL: dict[str, Literal["pairs", "value", "flag"]] = {
    "config": "pairs",
    "config_value": "pairs",
    "branch": "value",
    "production": "flag",
}


def top_options() -> list[RunOption]:
    """The run options a runner takes for all its runs (besides :data:`TOP_LEVEL`)."""
    return [o for o in _BY_KEYWORD.values() if not o.resume_only and o.keyword not in _OWN]


def runner_keyword(key: str, value: Any, who: str) -> str | None:
    """The keyword ``who`` (``Runner`` or ``NBRunner``) passes on for its own keyword
    argument ``key``: a run option or one of :data:`TOP_LEVEL` (None: one to ignore)."""
    keyword = ALIASES.get(key, key)
    if keyword == "pylint":
        return None  # Metaflow's switch for its pylint pass: flowkit runs none
    if keyword not in TOP_LEVEL and keyword not in {o.keyword for o in top_options()}:
        taken = sorted([*(o.keyword for o in top_options()), *TOP_LEVEL])
        call = "run" if who == "Runner" else "nbrun"
        raise FlowkitError(
            f"{who}(...) has no option {key}={value!r} in flowkit",
            f"give {who} the options {', '.join(taken)} (and Metaflow's decospecs); "
            f"the flow's parameters go to .{call}(...)",
        )
    return keyword


def merge_keywords(top_level: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    """A runner's keywords with a call's over them, but for tags: the run gets both's."""
    merged = {**top_level, **given}
    if "tags" in top_level and "tags" in given:
        merged["tags"] = [*as_list(top_level["tags"]), *as_list(given["tags"])]
    return merged


def as_list(value: Any) -> list[Any]:
    """A value given once or many times, as a list (a string is one value)."""
    return [value] if isinstance(value, str) else list(value)


def pairs(keyword: str, value: Any) -> list[tuple[str, Any]]:
    """``config``/``config_value`` as ``(name, file or value)`` pairs: Metaflow's list of
    tuples, or a dict."""
    items = value.items() if isinstance(value, Mapping) else value
    found = [tuple(item) for item in items]
    if any(len(item) != 2 for item in found):
        raise FlowkitError(
            f"{keyword}={value!r} is not a list of (name, value) pairs",
            f"give {keyword}=[('cfg', ...)] or {keyword}={{'cfg': ...}}",
        )
    return [(str(name), given) for name, given in found]


def _top_level_flags(keyword: str, value: Any) -> list[str]:
    flag = f"--{keyword.replace('_', '-')}"
    kind = TOP_LEVEL[keyword]
    if kind == "flag":
        return [flag] if value else []
    if value is None:
        return []
    if kind == "value":
        return [flag, str(value)]
    out: list[str] = []
    for name, given in pairs(keyword, value):
        if keyword == "config":
            text = os.fspath(given) if isinstance(given, os.PathLike) else str(given)
        else:
            text = given if isinstance(given, str) else json.dumps(given)
        out += [flag, name, text]
    return out


def api_keywords(keyword: str, value: Any) -> dict[str, Any]:
    """A :data:`TOP_LEVEL` option as :func:`flowkit.run`'s keywords: each config by its name
    (a file as a ``Path``), ``project_branch`` and ``project_production``."""
    if keyword == "branch":
        return {} if value is None else {"project_branch": value}
    if keyword == "production":
        return {"project_production": True} if value else {}
    if keyword == "config":
        return {name: Path(os.fspath(given)) for name, given in pairs(keyword, value)}
    return dict(pairs(keyword, value))


def _flag(option: RunOption, value: Any) -> list[str]:
    flag = f"--{option.flag}"
    if option.kind == "flag":
        return [flag] if value else []
    if value is None:
        return []
    if option.kind == "multiple":
        return [arg for v in as_list(value) for arg in (flag, str(v))]
    return [flag, os.fspath(value) if isinstance(value, os.PathLike) else str(value)]


def _parameter(name: str, value: Any) -> list[str]:
    if value is None:
        return []
    text = json.dumps(value) if isinstance(value, dict | list | tuple) else str(value)
    return [f"--{name.replace('_', '-')}", text]


def command_line(command: str, top_level: Mapping[str, Any], given: Mapping[str, Any]) -> list[str]:
    """The arguments after ``python flow.py`` for ``command`` (``run`` or ``resume``):
    ``top_level`` are the Runner's own keyword arguments (run options, and the options before
    the command, :data:`TOP_LEVEL`), ``given`` the call's (run options and the flow's
    parameters)."""
    allowed = [o for o in _BY_KEYWORD.values() if command == "resume" or not o.resume_only]
    before: list[str] = []
    options: dict[str, Any] = {}
    for key, value in top_level.items():
        keyword = runner_keyword(key, value, "Runner")
        if keyword in TOP_LEVEL:
            before += _top_level_flags(keyword, value)
        elif keyword is not None:
            options[keyword] = value
    params: dict[str, Any] = {}
    called: dict[str, Any] = {}
    for key, value in given.items():
        keyword = ALIASES.get(key, key)
        option = _BY_KEYWORD.get(keyword)
        if keyword in _OWN or (option is not None and option not in allowed):
            why = NOT_TAKEN.get(keyword, f"{command} has none")
            raise FlowkitError(
                f"{command}() takes no option {key}: {why}",
                f"its options are: {', '.join(sorted(o.keyword for o in allowed))}",
            )
        if option is None:
            params[key] = value
        else:
            called[keyword] = value
    options = merge_keywords(options, called)
    args = [*before, command]
    step = options.pop("step", None)
    for keyword, value in options.items():
        args += _flag(_BY_KEYWORD[keyword], value)
    for name, value in params.items():
        args += _parameter(name, value)
    if step is not None:
        args.append(str(step))
    return args
