"""``python flow.py COMMAND``: the command line a flow file gets from ``MyFlow()``."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import click

from flowkit.authoring.config import Config
from flowkit.authoring.delayed import DelayedExpr, is_delayed
from flowkit.authoring.names import run_option_named
from flowkit.authoring.parameters import Parameter, parameters_of
from flowkit.cli.base import FlowkitGroup
from flowkit.cli.config_options import (
    configured_for,
    remember,
    run_arguments,
    top_level_options,
)
from flowkit.cli.flow_commands import check_flow, show_flow
from flowkit.cli.running import (
    resume_arguments,
    resume_flow,
    reuse_options,
    run_flow,
    run_options,
)


def make_cli(flow_cls: type) -> click.Group:
    """The click group for one flow class: ``check``, ``show``, ``run``, ``resume``, and
    ``dump`` and ``logs`` of its runs' steps and tasks."""

    @click.group(
        cls=FlowkitGroup,
        help=_flow_help(flow_cls),
        no_args_is_help=True,
        params=top_level_options(flow_cls),  # --config, --branch: before the command
    )
    @click.version_option(package_name="flowkit", message="flowkit %(version)s")
    @click.pass_context
    def cli(ctx: click.Context, /, **top_level: Any) -> None:
        remember(ctx, top_level)

    @cli.command("check", help="Lint the flow: report every problem at once (exit 0 or 1).")
    @click.pass_context
    def check_cmd(ctx: click.Context) -> None:
        check_flow(configured_for(flow_cls, ctx))

    @cli.command("show", help="Show the flow's steps, transitions and docstrings.")
    @click.option("--json", "as_json", is_flag=True, help="Print the graph as JSON.")
    @click.pass_context
    def show_cmd(ctx: click.Context, as_json: bool) -> None:
        show_flow(configured_for(flow_cls, ctx), as_json=as_json)

    _add_store_commands(cli, flow_cls)

    def run_cmd(**given: Any) -> None:
        run_flow(flow_cls, {**given, **run_arguments(click.get_current_context())})

    def resume_cmd(**given: Any) -> None:
        resume_flow(flow_cls, {**given, **run_arguments(click.get_current_context())})

    # A parameter named like a run option is a lint problem, reported when the command
    # runs; giving click the option twice would only add its warnings before that message.
    params = [
        _option(p)
        for p in parameters_of(flow_cls)
        if not _shadowed(p) and not isinstance(p, Config)  # configs: --config NAME FILE
    ]
    cli.add_command(
        click.Command(
            "run",
            callback=run_cmd,
            params=[*params, *run_options(), *reuse_options()],
            help="Run the flow. Each parameter of the flow is an option.",
        )
    )
    cli.add_command(
        click.Command(
            "resume",
            callback=resume_cmd,
            params=[*resume_arguments(), *params, *run_options()],
            help=(
                "Resume a run: without STEP, what failed, never ran or changed runs again; "
                "with STEP, that step and everything after it. The rest is cloned. "
                "Parameters default to the origin run's."
            ),
        )
    )
    return cli


def _add_store_commands(cli: FlowkitGroup, flow_cls: type) -> None:
    """``dump``, ``logs``, ``card`` and ``tag``, made when one is asked for: their modules
    import the client, which ``run`` and ``resume`` do not need (tens of ms at start-up)."""

    def dump() -> click.Command:
        from flowkit.cli.pathspec_commands import dump_command

        return dump_command(flow_cls)

    def logs() -> click.Command:
        from flowkit.cli.pathspec_commands import logs_command

        return logs_command(flow_cls)

    def card() -> click.Command:
        from flowkit.cli.card_command import card_group, flow_task_resolver

        what = "PATHSPEC is STEP (of the latest run), RUN/STEP or RUN/STEP/TASK."
        return card_group(flow_task_resolver(flow_cls), what)

    def tag() -> click.Command:
        from flowkit.cli.flow_tag_command import flow_tag_group

        return flow_tag_group(flow_cls)

    for name, make in {"dump": dump, "logs": logs, "card": card, "tag": tag}.items():
        cli.add_lazy_command(name, make)


def main(flow_cls: type) -> None:
    """Run the flow's command line on ``sys.argv`` and exit with its status."""
    cli = make_cli(flow_cls)
    script = sys.argv[0] if sys.argv and sys.argv[0] else "flow.py"
    cli.main(prog_name=os.path.basename(os.path.normpath(script)))


def _option(param: Parameter) -> click.Option:
    names = [f"--{param.name}"]
    dashed = param.name.replace("_", "-")
    if dashed != param.name:
        names.append(f"--{dashed}")
    default = "" if param.default is None else f" [default: {_shown(param.default)}]"
    required = " [required]" if param.required else ""
    return click.Option(
        [*names, str(param.attr)],
        type=click.STRING,
        default=None,
        metavar="VALUE" if is_delayed(param.default) and not param.type_given else param.type_label,
        help=f"{param.help}{default}{required}".strip(),
    )


def _shadowed(param: Parameter) -> bool:
    return any(run_option_named(n) for n in (param.name, str(param.attr)))


def _shown(value: Any) -> str:
    if isinstance(value, DelayedExpr):  # its value is known once the run's configs are
        return f"from config, {value.text}"
    return json.dumps(value) if isinstance(value, dict | list) else str(value)


def _flow_help(flow_cls: type) -> str:
    doc = (flow_cls.__doc__ or "").strip().splitlines()
    return f"{flow_cls.__name__}: {doc[0]}" if doc else flow_cls.__name__
