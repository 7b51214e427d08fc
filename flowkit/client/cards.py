"""``get_cards(task)``: a task's ``@card`` reports, as Metaflow's ``metaflow.cards.get_cards``.

A card's HTML is read from the store when first asked for (``card.html`` or ``card.get()``),
so listing a task's cards costs its record only. A resumed run's cloned task names the
cards its origin task rendered.
"""

from __future__ import annotations

import os
import tempfile
import webbrowser
from collections.abc import Iterator
from html import escape
from pathlib import Path

from flowkit.client.objects import StoreLike, Task
from flowkit.errors import FlowkitError
from flowkit.store.records import CardRef
from flowkit.store.store import Store


class CardNotFoundError(FlowkitError, LookupError):
    """The task has no card of the id or type asked for."""


class Card:
    """One card: ``type``, ``id``, ``hash`` (its content's digest) and its ``html``."""

    def __init__(self, store: Store, task_pathspec: str, ref: CardRef) -> None:
        self._store, self._ref = store, ref
        self.type, self.id, self.hash = ref.type, ref.id, ref.digest
        self.pathspec = task_pathspec
        self._html: str | None = None

    @property
    def path(self) -> str:
        """Where the card is: its task, type, id and content digest."""
        return f"{self.pathspec}/cards/{self.type}/{self.id or '-'}/{self.hash}"

    @property
    def html(self) -> str:
        """The card's self-contained HTML page."""
        if self._html is None:
            html = self._store.values.load(
                self.hash, owner=f"the {self.type} card of {self.pathspec}"
            )
            self._html = str(html)
        return self._html

    def get(self) -> str:
        """The card's HTML (Metaflow's name for :attr:`html`)."""
        return self.html

    def save(self, path: str | Path | None = None) -> Path:
        """Write the HTML to ``path`` (by default a file named by its digest in this user's
        own folder of the temporary directory, written once); the path written."""
        if path is None:
            target = _own_folder() / f"{self.hash}.html"
            if target.exists():
                return target
        else:
            target = Path(path)
        partial = target.with_name(f".{target.name}.{os.getpid()}.partial")  # whole or not at all
        partial.write_text(self.html, encoding="utf-8")
        partial.replace(target)
        return target

    def view(self) -> Path:
        """Open the card in a web browser; the file it opened."""
        target = self.save()
        webbrowser.open(target.resolve().as_uri())
        return target

    def _repr_html_(self) -> str:
        # an iframe keeps the card's own style out of the notebook's page
        return (
            f"<iframe class='flowkit-card' srcdoc=\"{escape(self.html)}\" "
            "style='width:100%;height:600px;border:1px solid #e5e7eb'></iframe>"
        )

    def __repr__(self) -> str:
        return f"<Card {self.type}{f' {self.id}' if self.id else ''} of {self.pathspec}>"


class CardContainer:
    """The cards of a task, in decorator order: index, iterate, ``len``; in a notebook it
    shows them all."""

    def __init__(self, cards: list[Card], origin_pathspec: str | None = None) -> None:
        self._cards = cards
        self.origin_pathspec = origin_pathspec
        self.from_resumed = origin_pathspec is not None

    def __len__(self) -> int:
        return len(self._cards)

    def __iter__(self) -> Iterator[Card]:
        return iter(self._cards)

    def __getitem__(self, index: int) -> Card:
        return self._cards[index]

    def _repr_html_(self) -> str:
        return "\n".join(
            f"<h3>Card of type {escape(c.type)}{f' ({escape(c.id)})' if c.id else ''}</h3>"
            + c._repr_html_()
            for c in self._cards
        )

    def __repr__(self) -> str:
        return f"CardContainer({self._cards!r})"


def get_cards(
    task: Task | str,
    id: str | None = None,
    type: str | None = None,
    follow_resumed: bool = True,
    *,
    store: StoreLike = None,
) -> CardContainer:
    """The cards of ``task`` (a :class:`Task` or its pathspec ``Flow/run/step/task``), those
    with ``id`` or of ``type`` when given. A cloned task's cards are its origin's: with
    ``follow_resumed=False`` a clone has none."""
    if isinstance(task, str):
        task = Task(task, store=store)
    elif not isinstance(task, Task):
        raise FlowkitError(
            f"get_cards takes a Task or a pathspec, not {task.__class__.__name__}",
            "pass Flow('F')['run']['step'].task or 'F/run/step/task'",
        )
    record = task.record
    origin = record.origin_pathspec
    refs = [] if origin and not follow_resumed else list(record.cards)
    refs = [r for r in refs if (id is None or r.id == id) and (type is None or r.type == type)]
    return CardContainer([Card(task._store, task.pathspec, r) for r in refs], origin)


def card_of(
    task: Task, id: str | None = None, type: str | None = None, hash: str | None = None
) -> Card:
    """The one card of ``task`` that :func:`get_cards` finds (whose digest starts with
    ``hash``, when given), or an error listing them."""
    cards = [c for c in get_cards(task, id=id, type=type) if c.hash.startswith(hash or "")]
    if len(cards) == 1:
        return cards[0]
    every = list(get_cards(task))
    known = ", ".join(f"{c.type}{f' (id {c.id})' if c.id else ''}" for c in every) or "none"
    if not cards:
        given = (("id", id), ("type", type), ("hash", hash))
        wanted = " ".join(f"{k} {v}" for k, v in given if v) or "at all"
        raise CardNotFoundError(
            f"task {task.pathspec} has no card {wanted}",
            f"its cards: {known}. Add @card to the step to make one"
            if not every
            else f"its cards: {known}; pick one with --id, --type or --hash",
        )
    raise CardNotFoundError(
        f"task {task.pathspec} has {len(cards)} cards: {known}",
        "pick one with --id ID, --type TYPE or --hash HASH (flowkit show lists them)",
    )


def _own_folder() -> Path:
    """``flowkit-cards-<uid>`` in the temporary directory: created for this user alone
    (0700), so no one else can read a card or put a file where one will be opened."""
    folder = Path(tempfile.gettempdir()) / f"flowkit-cards-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    info = folder.lstat()
    if (
        not folder.is_dir()
        or folder.is_symlink()
        or info.st_uid != os.getuid()
        or info.st_mode & 0o077
    ):
        raise FlowkitError(
            f"{folder} is not a folder of this user's alone (0700), so cards are not saved there",
            f"remove {folder}, or pass a path: card.save('card.html')",
        )
    return folder
