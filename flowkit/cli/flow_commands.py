"""``check`` and ``show`` of one flow class: what ``flowkit check|show FILE`` and
``python flow.py check|show`` both do, once."""

from __future__ import annotations

import json

import click

from flowkit.cli.show import describe
from flowkit.lint.api import check, graph_of


def check_flow(flow_cls: type) -> None:
    """Lint the flow; say so if it has no problems (a :class:`LintError` says what it has)."""
    built = check(flow_cls)
    click.echo(f"{built.name}: {len(built.steps)} steps, no problems found.")


def show_flow(flow_cls: type, *, as_json: bool) -> None:
    """Print the flow's steps, transitions and docstrings, or its graph as JSON."""
    from flowkit.authoring.scheduling import describe as describe_scheduling  # zoneinfo: only here

    built = graph_of(flow_cls)
    if as_json:
        click.echo(json.dumps(built.to_json(), indent=2, default=repr))
    else:
        click.echo(describe(built) + describe_scheduling(flow_cls))
