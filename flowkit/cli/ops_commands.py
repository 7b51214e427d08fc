"""``flowkit dlq`` (dead letters: list, show, retry) and ``flowkit fsck`` (store integrity)."""

from __future__ import annotations

import json
import sys
from datetime import datetime

import click

from flowkit.cli.base import note_if_empty, open_store_at, store_option
from flowkit.fastdata import asdict
from flowkit.store.deadletters import DeadLetter, list_letters, read_letter, retries_of
from flowkit.store.store import Store


def _state(store: Store, letter: DeadLetter) -> str:
    retries = retries_of(store, letter.id)
    if not retries:
        return "open"
    last = retries[-1]
    return f"retried ({last.status}, run {last.run_id})"


@click.group("dlq")
def dlq() -> None:
    """Dead letters: tasks that exhausted their retries."""


@dlq.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per dead letter.")
@store_option
def list_cmd(as_json: bool, store_url: str | None) -> None:
    """List the dead letters, oldest first."""
    store = open_store_at(store_url)
    letters = list_letters(store)
    if as_json:
        rows = [{**asdict(x), "state": _state(store, x)} for x in letters]
        click.echo(json.dumps(rows, indent=2))
        return
    if not letters:
        click.echo(f"no dead letters in {store.url}")
        return
    for x in letters:
        when = datetime.fromtimestamp(x.created_at).strftime("%Y-%m-%d %H:%M:%S")
        click.echo(f"{x.id}  {when}  {x.pathspec}  {x.exception}  [{_state(store, x)}]")


@dlq.command("show")
@click.argument("letter_id", metavar="ID")
@store_option
def show_cmd(letter_id: str, store_url: str | None) -> None:
    """Show one dead letter: the task, its inputs, its exception and where its logs are."""
    store = open_store_at(store_url)
    x = read_letter(store, letter_id)
    lines = [
        f"dead letter {x.id}: {x.pathspec} (attempt {x.attempt}, {x.failure or 'failed'})",
        f"state: {_state(store, x)}",
        "inputs: " + (", ".join(f"{x.flow}/{x.run_id}/{i}" for i in x.inputs) or "none"),
        f"logs: flowkit logs {x.pathspec} --store {store.url}",
        f"error: {x.exception}",
    ]
    if x.exception is not None and x.exception.traceback:
        lines.append(x.exception.traceback.rstrip())
    lines.append(f"retry it (after a fix): flowkit dlq retry {x.id} --store {store.url}")
    click.echo("\n".join(lines))


@dlq.command("retry")
@click.argument("letter_id", metavar="ID")
@click.option("--quiet", is_flag=True, help="Only failures and the final summary.")
@store_option
def retry_cmd(letter_id: str, quiet: bool, store_url: str | None) -> None:
    """Run a dead-lettered task again against its recorded inputs (with the flow's code as it
    is now), then resume its run from it. Exit 1 if it fails again."""
    from flowkit.cli.running import sigterm_as_interrupt
    from flowkit.runtime.api import RunFailed
    from flowkit.runtime.deadletter import retry_dead_letter
    from flowkit.surfaces.default import default_view

    store = open_store_at(store_url)
    try:
        with sigterm_as_interrupt():
            run = retry_dead_letter(store, letter_id, lambda: default_view(quiet), quiet=quiet)
    except RunFailed as failed:
        sys.exit(130 if failed.cancelled else 1)
    click.echo(f"dead letter {letter_id} retried: run {run.pathspec} succeeded")


@click.command("fsck")
@click.option("--json", "as_json", is_flag=True, help="The problems as a JSON list.")
@click.option(
    "--repair",
    is_flag=True,
    help="Remove what can go safely: damaged blobs and log chunks, broken cache entries, "
    "temporary files of killed writers (untouched for an hour).",
)
@store_option
def fsck_cmd(as_json: bool, repair: bool, store_url: str | None) -> None:
    """Check every record, blob and log chunk of the store (hashes, references); change
    nothing unless --repair is given.

    Exit 0 when the store is sound (with --repair: when everything found was repaired),
    1 otherwise.
    """
    from flowkit.store import fsck as checker

    store = open_store_at(store_url)
    note_if_empty(store)
    report = checker.fsck(store)
    removed = checker.repair(store, report) if repair else []
    left = [p for p in report.problems if p not in removed]
    if as_json:
        rows = [{**asdict(p), "removed": p in removed} for p in report.problems]
        click.echo(json.dumps(rows, indent=2))
    else:
        for problem in report.problems:
            click.echo(f"{problem.key}: {problem.message}")
        click.echo(report.summary())
        for problem in removed:
            click.echo(f"removed {problem.key}")
        if removed:
            click.echo(f"{len(removed)} of {len(report.problems)} problem(s) repaired.")
        if any(p.key.startswith("blobs/") for p in removed):
            click.echo("resume the runs that named the removed blobs: their tasks write them anew")
        if left and not repair and any(p.removable for p in left):
            click.echo("flowkit fsck --repair removes what can go safely (see --help).")
    if left:
        sys.exit(1)


COMMANDS: list[click.Command] = [dlq, fsck_cmd]
