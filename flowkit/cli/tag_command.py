"""``flowkit tag add|remove|replace|list FLOW/RUN TAG...``: a run's tags, as Metaflow's ``tag``."""

from __future__ import annotations

import click

from flowkit.cli.base import open_store_at, store_option
from flowkit.client import Run
from flowkit.store import parse_pathspec
from flowkit.store.errors import BadPathspecError


def _run(pathspec: str, store_url: str | None) -> Run:
    spec = parse_pathspec(pathspec)
    if spec.depth != 2:
        raise BadPathspecError(
            f"{pathspec!r} does not name a run",
            "give Flow/run; list a flow's runs with: flowkit runs Flow",
        )
    return Run(str(spec), store=open_store_at(store_url), _namespace_check=False)


def _echo(run: Run) -> None:
    click.echo(f"run {run.pathspec}")
    click.echo(f"  user tags    {', '.join(sorted(run.user_tags)) or '(none)'}")
    click.echo(f"  system tags  {', '.join(sorted(run.system_tags)) or '(none)'}")


@click.group("tag")
def tag_cmd() -> None:
    """Add, remove, replace or list the tags of a run (system tags cannot change)."""


@tag_cmd.command("add")
@click.argument("pathspec")
@click.argument("tags", nargs=-1, required=True)
@store_option
def add_cmd(pathspec: str, tags: tuple[str, ...], store_url: str | None) -> None:
    """Add TAGS to the run PATHSPEC (Flow/run)."""
    run = _run(pathspec, store_url)
    run.add_tags(tags)
    _echo(run)


@tag_cmd.command("remove")
@click.argument("pathspec")
@click.argument("tags", nargs=-1, required=True)
@store_option
def remove_cmd(pathspec: str, tags: tuple[str, ...], store_url: str | None) -> None:
    """Remove TAGS from the run PATHSPEC (Flow/run)."""
    run = _run(pathspec, store_url)
    run.remove_tags(tags)
    _echo(run)


@tag_cmd.command("replace")
@click.argument("pathspec")
@click.argument("old")
@click.argument("new")
@store_option
def replace_cmd(pathspec: str, old: str, new: str, store_url: str | None) -> None:
    """Replace the tag OLD by NEW on the run PATHSPEC (Flow/run), in one change."""
    run = _run(pathspec, store_url)
    run.replace_tag(old, new)
    _echo(run)


@tag_cmd.command("list")
@click.argument("pathspec")
@store_option
def list_cmd(pathspec: str, store_url: str | None) -> None:
    """List the user and system tags of the run PATHSPEC (Flow/run)."""
    _echo(_run(pathspec, store_url))
