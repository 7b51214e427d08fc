"""The ``flowkit`` command: what needs no flow file of its own to start from."""

from __future__ import annotations

import json

import click

from flowkit.authoring.loader import load_flow_file
from flowkit.cli.base import FlowkitGroup
from flowkit.cli.show import describe
from flowkit.graph.api import check, graph_of

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
    built = check(load_flow_file(path, flow_name))
    click.echo(f"{built.name}: {len(built.steps)} steps, no problems found.")


@cli.command("show")
@click.argument("path", type=click.Path(dir_okay=False))
@_FLOW_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print the graph as JSON.")
def show_cmd(path: str, flow_name: str | None, as_json: bool) -> None:
    """Show the steps of the flow in PATH."""
    built = graph_of(load_flow_file(path, flow_name))
    click.echo(json.dumps(built.to_json(), indent=2, default=repr) if as_json else describe(built))


def main() -> None:
    """Entry point of the ``flowkit`` console script."""
    cli.main(prog_name="flowkit")
