"""A task's ``@card`` reports: ``current.card`` while its step runs, and when the task ends
(succeeded, caught or failed) each card rendered to one HTML page, stored as a blob that
the task's final record names.

A card that fails to render, or takes longer than its ``timeout``, never fails the task:
the card says what went wrong instead, and so does the task's stderr (as in Metaflow).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from flowkit.authoring.card_collector import CardCollector, CardSlot, collecting
from flowkit.authoring.decorators import decorators_of
from flowkit.fastdata import replace
from flowkit.store.records import ArtifactRef, CardRef, RunRecord, TaskRecord
from flowkit.task.failure import message

if TYPE_CHECKING:
    from flowkit.store import Store
    from flowkit.task.spec import TaskSpec


def cards_of(spec: TaskSpec, flow_cls: type) -> list[Mapping[str, Any]]:
    """The arguments of each card ``spec``'s task makes: its step's ``@card`` decorators,
    else the one ``run --with card`` gives every step."""
    decorators, _ = decorators_of(getattr(flow_cls, spec.step, None))
    cards = [d.args for d in decorators if d.name == "card"]
    if not cards and spec.with_card is not None:  # run --with card
        cards = [spec.with_card]
    return cards


def load_renderers() -> None:
    """Import what rendering a card takes (the page, its DAG picture, the previews): a
    worker forking tasks that have cards does it once, not each task after its step."""
    import flowkit.client.display
    import flowkit.task.card_page  # noqa: F401


class TaskCards:
    """The cards of one task attempt, from its step's ``@card`` decorators."""

    def __init__(self, spec: TaskSpec, store: Store, flow_cls: type) -> None:
        self._spec, self._store = spec, store
        self.collector = CardCollector([_slot(c) for c in cards_of(spec, flow_cls)], step=spec.step)

    @contextmanager
    def collecting(self) -> Iterator[CardCollector]:
        """``current.card`` is this task's collector inside the block."""
        with collecting(self.collector) as collector:
            yield collector

    def attach(self, record: TaskRecord, *, within: float | None = None) -> TaskRecord:
        """``record`` (the attempt's final record) naming its rendered, stored cards; all
        rendered within ``within`` seconds when given (each in its own ``timeout`` too). A
        card that cannot be stored leaves the record without cards, said on stderr: the
        step's own outcome (its exception, if it failed) is the news."""
        if not self.collector.cards:
            return record
        deadline = None if within is None else time.monotonic() + within
        try:
            cards = tuple(self._store_card(c, record, deadline) for c in self.collector.cards)
        except Exception as exc:  # reported: a card must never hide or fail its task
            sys.stderr.write(
                f"[@card WARNING] {record.pathspec}: its cards were not stored, the task's "
                f"record names none: {type(exc).__name__}: {message(exc)}\n"
            )
            return record
        return replace(record, cards=cards)

    def _store_card(self, card: CardSlot, record: TaskRecord, deadline: float | None) -> CardRef:
        html = self._render_in_time(card, record, deadline)
        ref = self._store.values.put(html, name=f"@card({card.type})", step=record.step)
        return CardRef(card.type, card.id, ref.digest)

    def _render_in_time(self, card: CardSlot, record: TaskRecord, deadline: float | None) -> str:
        """The card's page, rendered in a thread that may take ``card.timeout`` seconds (or
        until ``deadline``, a ``time.monotonic()`` reading, if that comes first)."""
        result: dict[str, str] = {}

        def work() -> None:
            try:
                result["html"] = self.render(card, record)
            except Exception as exc:  # a card that cannot render must not fail its task
                import traceback

                result["error"] = "".join(traceback.format_exception(exc))

        limit = card.timeout
        if deadline is not None:
            limit = max(min(limit, deadline - time.monotonic()), 0.0)
        worker = threading.Thread(target=work, name="flowkit-card", daemon=True)
        worker.start()
        worker.join(limit)
        if "html" in result:
            return result["html"]
        what = f"@card(type='{card.type}'{f', id={card.id!r}' if card.id else ''})"
        if worker.is_alive():
            title, detail = f"{what} took more than its timeout of {card.timeout:g}s", ""
            if limit < card.timeout:
                title = (
                    f"{what} was not rendered in the {limit:g}s the timed-out step had left "
                    "before its process was killed"
                )
        else:
            title, detail = f"{what} failed to render", result.get("error", "")
        from flowkit.task.card_page import error_card

        sys.stderr.write(f"[@card WARNING] {record.pathspec}: {title}\n{detail}")
        return error_card(record, title, detail)

    def render(self, card: CardSlot, record: TaskRecord) -> str:
        """The card's HTML page; a type flowkit does not have renders as a page saying so."""
        # here: the page (datetime, html, the DAG's SVG) is made only for a step with a card
        from flowkit.client.display import PREVIEW_LIMIT
        from flowkit.task.card_page import blank_card, default_card, error_card

        components = list(card.components)
        if card.type == "blank":
            return blank_card(record, components)
        if card.type == "default":
            limit = card.options.get("max_artifact_size")
            limit = limit if isinstance(limit, int) and limit >= 0 else PREVIEW_LIMIT
            parameters = self._spec.parameters
            return default_card(record, components, parameters, self._load, limit, self._run())
        sys.stderr.write(
            f"[@card WARNING] {record.pathspec}: there is no card type '{card.type}' in flowkit\n"
        )
        return error_card(
            record,
            f"flowkit has no card type '{card.type}'",
            "flowkit renders @card(type='default') and @card(type='blank'); use one of them",
        )

    def _run(self) -> RunRecord:
        """The run's record, for its graph."""
        return self._store.records.get_run(self._spec.flow, self._spec.run_id)

    def _load(self, ref: ArtifactRef) -> Any:
        owner = f"an artifact of {self._spec.pathspec}"
        return self._store.values.load_artifact(ref, owner=owner)


def _slot(args: Mapping[str, Any]) -> CardSlot:
    """The card a ``@card``'s (validated) arguments describe."""
    return CardSlot(
        type=str(args["type"]),
        id=args["id"],
        options=dict(args["options"]),
        timeout=float(args["timeout"]),
        customize=bool(args["customize"]),
    )
