"""``flowkit card view|get|list PATHSPEC`` and ``python flow.py card view|get|list STEP``:
a task's ``@card`` reports as an HTML file (opened in a browser), printed, or listed."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import click

from flowkit.cli.base import open_store_at, store_option
from flowkit.cli.task_paths import task_at
from flowkit.client import Flow, Task
from flowkit.client.cards import card_of, get_cards
from flowkit.store.errors import BadPathspecError
from flowkit.store.store import Store

Resolve = Callable[[str, Store], Task]


def flow_task_resolver(flow_cls: type) -> Resolve:
    """What ``python flow.py card`` takes: ``STEP`` (of the flow's latest run),
    ``RUN/STEP`` or ``RUN/STEP/TASK``, as Metaflow's ``card`` command does."""
    name = flow_cls.__name__  # a flow's name; its graph is built only when a command needs it

    def resolve(identifier: str, store: Store) -> Task:
        parts = identifier.split("/")
        if len(parts) == 1:
            run = Flow(name, store=store).latest_run
            assert run is not None  # Flow() refuses a flow without runs
            parts = [run.id, *parts]
        if len(parts) not in (2, 3):
            raise BadPathspecError(
                f"{identifier!r} is not a step or task of {name}",
                "give STEP (of the latest run), RUN/STEP or RUN/STEP/TASK",
            )
        return task_at(f"{name}/{'/'.join(parts)}", store)

    return resolve


def _choose(f: Callable[..., None]) -> Callable[..., None]:
    f = click.option("--id", "card_id", default=None, help="The card with this id.")(f)
    f = click.option("--type", "card_type", default=None, help="The card of this type.")(f)
    f = click.option("--hash", "card_hash", default=None, help="The card whose hash starts so.")(f)
    return store_option(f)


def card_group(resolve: Resolve, what: str) -> click.Group:
    """The ``card`` command group; ``what`` says what its PATHSPEC argument is."""

    @click.group("card", help="A task's @card reports: view, get or list them.")
    def card() -> None:
        pass

    @card.command("view", help=f"Write a task's card to an HTML file and open it. {what}")
    @click.argument("pathspec")
    @_choose
    @click.option("--no-open", is_flag=True, help="Print the file's path only.")
    def view(
        pathspec: str,
        card_id: str | None,
        card_type: str | None,
        card_hash: str | None,
        store_url: str | None,
        no_open: bool,
    ) -> None:
        task = resolve(pathspec, open_store_at(store_url))
        found = card_of(task, id=card_id, type=card_type, hash=card_hash)
        path = found.save()
        click.echo(str(path))
        if not no_open and _can_open():
            found.view()

    @card.command("get", help=f"Print a task's card (or write it to FILE). {what}")
    @click.argument("pathspec")
    @click.argument("file", required=False, type=click.Path(dir_okay=False))
    @_choose
    def get(
        pathspec: str,
        file: str | None,
        card_id: str | None,
        card_type: str | None,
        card_hash: str | None,
        store_url: str | None,
    ) -> None:
        task = resolve(pathspec, open_store_at(store_url))
        found = card_of(task, id=card_id, type=card_type, hash=card_hash)
        if file is None:
            click.echo(found.html)
        else:
            click.echo(str(found.save(Path(file))), err=True)

    @card.command("list", help=f"List a task's cards: type, id and hash. {what}")
    @click.argument("pathspec")
    @store_option
    def list_cards(pathspec: str, store_url: str | None) -> None:
        task = resolve(pathspec, open_store_at(store_url))
        cards = list(get_cards(task))
        if not cards:
            click.echo(f"task {task.pathspec} has no cards (add @card to its step to make one)")
        for found in cards:
            click.echo(f"{found.type:<12} {found.id or '-':<16} {found.hash[:12]}")

    return card


def _can_open() -> bool:
    """Whether a browser can show a page here (a machine without a display would start a
    text browser in the terminal, or nothing)."""
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


card_cmd = card_group(task_at, "PATHSPEC is Flow/run/step/task.")
