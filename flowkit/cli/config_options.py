"""The options a flow's command line takes before its command, as Metaflow's do:
``--config NAME FILE`` and ``--config-value NAME JSON`` for a flow with configs, ``--branch``
and ``--production`` for a ``@project`` flow (``python flow.py --config cfg cfg.json run``)."""

from __future__ import annotations

import json
import os
from typing import Any

import click

from flowkit.authoring.config import PROJECT_ATTR, configs_of, resolve_configs
from flowkit.authoring.configure import configure

_META_KEY = "flowkit.top_level"
#: ``flowkit.run``'s keywords for ``--branch`` and ``--production``.
PROJECT_BRANCH, PROJECT_PRODUCTION = "project_branch", "project_production"
#: Where each config option is read from when the command line does not give it: a JSON
#: object of name -> file (or value), flowkit's variable first, then Metaflow's.
_ENV = {
    "config": ("FLOWKIT_FLOW_CONFIG", "METAFLOW_FLOW_CONFIG"),
    "config_value": ("FLOWKIT_FLOW_CONFIG_VALUE", "METAFLOW_FLOW_CONFIG_VALUE"),
}


def top_level_options(flow_cls: type) -> list[click.Option]:
    """The options ``flow_cls``'s command line takes before its command."""
    options: list[click.Option] = []
    configs = configs_of(flow_cls)
    if configs:
        listed = "; ".join(f"{c.name} ({c.help})" if c.help else c.name for c in configs)
        pair = click.Tuple([click.Choice([c.name for c in configs]), click.STRING])
        options += [
            click.Option(
                ["--config", "config"],
                type=pair,
                multiple=True,
                metavar="NAME FILE",
                help=f"Read config NAME from FILE (repeatable; default: ${_ENV['config'][0]}, "
                f"a JSON object of NAME: FILE). The flow's configs: {listed}.",
            ),
            click.Option(
                ["--config-value", "config_value"],
                type=pair,
                multiple=True,
                metavar="NAME JSON",
                help="Give config NAME as a JSON text (repeatable; default: "
                f"${_ENV['config_value'][0]}, a JSON object of NAME: value).",
            ),
        ]
    if getattr(flow_cls, PROJECT_ATTR, None) is not None:
        options += [
            click.Option(
                ["--branch", "branch"],
                default=None,
                help="Run on this @project branch (test.BRANCH; prod.BRANCH with "
                "--production); by default the user's own, user.NAME.",
            ),
            click.Option(
                ["--production", "production"],
                is_flag=True,
                default=False,
                help="Run on the @project's production branch.",
            ),
        ]
    return options


def remember(ctx: click.Context, given: dict[str, Any]) -> None:
    """Keep what the top-level options were given, for the command to read."""
    ctx.meta[_META_KEY] = given


def run_arguments(ctx: click.Context) -> dict[str, Any]:
    """What the top-level options were given, as arguments of ``flowkit.run``: each config
    by name (a ``Path`` to read, or a JSON text), ``project_branch`` and ``project_production``
    (not ``branch``/``production``: those are left to the flow's parameters of those names)."""
    given = ctx.meta.get(_META_KEY, {})
    files = dict(given.get("config") or _from_env("config"))
    values = dict(given.get("config_value") or _from_env("config_value"))
    both = sorted(set(files) & set(values))
    if both:
        raise click.UsageError(
            "Cannot provide both a value and a file for the same configuration. "
            f"Found such values for '{', '.join(both)}'"
        )
    out: dict[str, Any] = _as_paths(files) | values
    if given.get("branch"):
        out[PROJECT_BRANCH] = given["branch"]
    if given.get("production"):
        out[PROJECT_PRODUCTION] = True
    return out


def _as_paths(files: dict[str, str]) -> dict[str, Any]:
    """Each config file as the ``Path`` that ``flowkit.run`` reads a config from."""
    if not files:  # pathlib's imports cost a run ~5 ms, and most runs name no config file
        return {}
    from pathlib import Path

    return {name: Path(path) for name, path in files.items()}


def configured_for(flow_cls: type, ctx: click.Context) -> type:
    """``flow_cls`` configured with the configs the top-level options give (the defaults
    for the others), for ``check`` and ``show``."""
    if not configs_of(flow_cls):
        return flow_cls
    project = (PROJECT_BRANCH, PROJECT_PRODUCTION)
    given = {k: v for k, v in run_arguments(ctx).items() if k not in project}
    return configure(flow_cls, resolve_configs(flow_cls, given))


def _from_env(option: str) -> dict[str, Any]:
    """The option's value from the first of its environment variables that is set."""
    for var in _ENV[option]:
        text = os.environ.get(var)
        if not text:
            continue
        try:
            found = json.loads(text)
        except json.JSONDecodeError as exc:
            raise click.UsageError(f"${var} is not valid JSON: {exc}") from None
        if not isinstance(found, dict):
            raise click.UsageError(f"${var} must be a JSON object of config name -> value")
        if option == "config":
            return {k: str(v) for k, v in found.items()}
        return {k: v if isinstance(v, str) else json.dumps(v) for k, v in found.items()}
    return {}
