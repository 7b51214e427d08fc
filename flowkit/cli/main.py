"""The ``flowkit`` command: what needs no flow file of its own to start from."""

from __future__ import annotations

import functools
import os

import click

from flowkit.authoring.loader import load_flow_file
from flowkit.cli.airflow_commands import airflow_cmd
from flowkit.cli.base import FlowkitGroup, store_option
from flowkit.cli.card_command import card_cmd
from flowkit.cli.code_command import code_cmd
from flowkit.cli.flow_commands import check_flow, show_flow
from flowkit.cli.gc_command import gc_cmd
from flowkit.cli.notebook_commands import notebook_cmd
from flowkit.cli.ops_commands import COMMANDS as OPS_COMMANDS
from flowkit.cli.store_commands import COMMANDS, show_pathspec
from flowkit.cli.tag_command import tag_cmd
from flowkit.cli.ui_command import ui_cmd
from flowkit.exits import run_as_program

_FLOW_OPTION = click.option(
    "--flow", "flow_name", default=None, help="The flow to use when the file has several."
)


@click.group(cls=FlowkitGroup, no_args_is_help=True)
@click.version_option(package_name="flowkit", message="flowkit %(version)s")
def cli() -> None:
    """flowkit: step flows for data science."""


@cli.command("check")
@click.argument("path", type=click.Path(dir_okay=False))
@_FLOW_OPTION
def check_cmd(path: str, flow_name: str | None) -> None:
    """Lint the flow in PATH (exit 0 or 1)."""
    check_flow(load_flow_file(path, flow_name))


@cli.command("show")
@click.argument("target")
@_FLOW_OPTION
@click.option("--json", "as_json", is_flag=True, help="For a flow file: the graph as JSON.")
@store_option
def show_cmd(target: str, flow_name: str | None, as_json: bool, store_url: str | None) -> None:
    """Show a flow file's steps, or what the store holds for a pathspec.

    TARGET is a flow file (path/to/flow.py), or Flow, Flow/run, Flow/run/step or
    Flow/run/step/task: a flow's runs, a run's steps, a step's tasks, a task's artifacts.
    """
    if target.endswith(".py") or os.path.isfile(target):
        show_flow(load_flow_file(target, flow_name), as_json=as_json)
        return
    show_pathspec(target, store_url)


for command in COMMANDS:
    cli.add_command(command)
for command in OPS_COMMANDS:
    cli.add_command(command)
cli.add_command(notebook_cmd)
cli.add_command(code_cmd)
cli.add_command(gc_cmd)
cli.add_command(tag_cmd)
cli.add_command(card_cmd)
cli.add_command(ui_cmd)
cli.plugin_commands = "flowkit.commands"  # e.g. flowkit mlflow, from flowkit-mlflow


def _deploy_command(name: str) -> click.Command:
    from flowkit.cli.deploy_commands import COMMANDS as DEPLOY_COMMANDS

    return DEPLOY_COMMANDS[name]


for _name in ("deploy", "deployments", "undeploy", "event", "scheduler"):
    cli.add_lazy_command(_name, functools.partial(_deploy_command, _name))
cli.add_command(airflow_cmd)


def main() -> None:
    """Entry point of the ``flowkit`` console script."""
    run_as_program(functools.partial(cli.main, prog_name="flowkit"))


if __name__ == "__main__":
    main()
