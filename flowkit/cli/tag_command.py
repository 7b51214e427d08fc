"""``flowkit tag add|remove|replace|list FLOW/RUN TAG...``: a run's tags, as Metaflow's ``tag``.
How a change is made and how tags are shown is this module's, for ``python flow.py tag`` too."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

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


GroupBy = Literal["run", "tag"] | None


def _joined(tags: Iterable[str]) -> str:
    return ", ".join(sorted(set(tags))) or "(none)"


def echo_tags(runs: Sequence[Run], *, hide_system: bool = False, group_by: GroupBy = None) -> None:
    """Print the tags of ``runs``: all their tags together (Metaflow's default), each run's
    (``group_by="run"``) or each tag's runs (``group_by="tag"``); user and system tags apart,
    as only user tags can change."""
    if group_by == "tag":
        owners: dict[tuple[str, str], list[str]] = {}
        for run in runs:
            kinds = [("user", run.user_tags)] + (
                [] if hide_system else [("system", run.system_tags)]
            )
            for kind, tags in kinds:
                for tag in tags:
                    owners.setdefault((tag, kind), []).append(run.pathspec)
        for (tag, kind), pathspecs in sorted(owners.items()):
            click.echo(f"{kind} tag {tag}")
            click.echo(f"  {', '.join(pathspecs)}")
        return
    groups = [[run] for run in runs] if group_by == "run" else [list(runs)]
    for group in groups:
        click.echo(f"{'run' if len(group) == 1 else 'runs'} {', '.join(r.pathspec for r in group)}")
        click.echo(f"  user tags    {_joined(t for r in group for t in r.user_tags)}")
        if not hide_system:
            click.echo(f"  system tags  {_joined(t for r in group for t in r.system_tags)}")


def change_tags(run: Run, *, remove: Iterable[str] = (), add: Iterable[str] = ()) -> None:
    """Remove, then add, user tags of ``run`` in one change, and show its tags after it."""
    run.replace_tags(remove, add)
    echo_tags([run])


@click.group("tag")
def tag_cmd() -> None:
    """Add, remove, replace or list the tags of a run (system tags cannot change)."""


@tag_cmd.command("add")
@click.argument("pathspec")
@click.argument("tags", nargs=-1, required=True)
@store_option
def add_cmd(pathspec: str, tags: tuple[str, ...], store_url: str | None) -> None:
    """Add TAGS to the run PATHSPEC (Flow/run)."""
    change_tags(_run(pathspec, store_url), add=tags)


@tag_cmd.command("remove")
@click.argument("pathspec")
@click.argument("tags", nargs=-1, required=True)
@store_option
def remove_cmd(pathspec: str, tags: tuple[str, ...], store_url: str | None) -> None:
    """Remove TAGS from the run PATHSPEC (Flow/run)."""
    change_tags(_run(pathspec, store_url), remove=tags)


@tag_cmd.command("replace")
@click.argument("pathspec")
@click.argument("old")
@click.argument("new")
@store_option
def replace_cmd(pathspec: str, old: str, new: str, store_url: str | None) -> None:
    """Replace the tag OLD by NEW on the run PATHSPEC (Flow/run), in one change."""
    change_tags(_run(pathspec, store_url), remove=[old], add=[new])


@tag_cmd.command("list")
@click.argument("pathspec")
@store_option
def list_cmd(pathspec: str, store_url: str | None) -> None:
    """List the user and system tags of the run PATHSPEC (Flow/run)."""
    echo_tags([_run(pathspec, store_url)])
