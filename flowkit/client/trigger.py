"""``current.trigger``: which upstream runs or events fired a run ``flowkit scheduler`` started.

The scheduler names what fired a run in the run's system tags (see :func:`trigger_tags`):
``trigger:run:<Flow>/<run_id>@<end time>``, ``trigger:event:<name>/<id>@<time>`` or
``trigger:schedule:<slot, ISO UTC>@<time zone>`` (read as ``current.scheduled_at``, see
:func:`flowkit.authoring.scheduling.scheduled_at`). :class:`Trigger` reads them back with Metaflow's shape
(``.event``, ``.events``, ``.run``, ``.runs``, ``trigger[name]``); a run an upstream run fired
is named as Metaflow names it, ``metaflow.<Flow>.end``, so code that filters on it works as is.
A run no trigger fired (started by hand, or by a schedule) has no ``current.trigger``: None,
as in Metaflow.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from datetime import datetime

    from flowkit.client.objects import Run

PREFIX = "trigger:"


class TriggerEvent(NamedTuple):
    """Metaflow's ``MetaflowEvent``: ``type`` is ``"event"`` or ``"run"``; for a run, ``id``
    is the upstream run's pathspec (``Flow/run_id``)."""

    name: str
    id: str
    timestamp: datetime
    type: str


def trigger_tags(kind: str, what: str, at: float) -> str:
    """The system tag naming what fired a run: ``kind`` ``run`` (``what``: ``Flow/run_id``)
    or ``event`` (``name/id``); a schedule's is :func:`~flowkit.authoring.scheduling.schedule_tag`."""
    return f"{PREFIX}{kind}:{what}" + ("" if kind == "schedule" else f"@{at:.3f}")


def _parse(tag: str) -> TriggerEvent | None:
    from datetime import UTC, datetime  # here: a task that never reads current.trigger

    kind, _, rest = tag[len(PREFIX) :].partition(":")
    what, _, at = rest.rpartition("@")
    try:
        when = datetime.fromtimestamp(float(at), tz=UTC)
    except ValueError:
        return None
    name, _, ident = what.partition("/")
    if kind == "run" and ident:
        return TriggerEvent(f"metaflow.{name}.end", what, when, "run")
    if kind == "event" and ident:
        return TriggerEvent(name, ident, when, "event")
    return None


class Trigger:
    """The events (and upstream runs) that fired this run, latest first."""

    def __init__(self, events: list[TriggerEvent]) -> None:
        self._events = sorted(events, key=lambda e: e.timestamp, reverse=True)

    @staticmethod
    def from_tags(system_tags: Iterable[str]) -> Trigger | None:
        """The trigger the run's system tags name; None when no event or run fired it."""
        found = [e for t in system_tags if t.startswith(PREFIX) and (e := _parse(t)) is not None]
        return Trigger(found) if found else None

    @property
    def event(self) -> TriggerEvent | None:
        """The latest event (or upstream run's end) that fired the run."""
        return next(iter(self._events), None)

    @property
    def events(self) -> list[TriggerEvent] | None:
        return list(self._events) or None

    @property
    def run(self) -> Run | None:
        """The latest upstream run that fired the run, as a client ``Run``."""
        return next(iter(self.runs or ()), None)

    @property
    def runs(self) -> list[Run] | None:
        from flowkit.client.objects import Run

        found = [Run(e.id, _namespace_check=False) for e in self._events if e.type == "run"]
        return found or None

    def __getitem__(self, key: str) -> Run | TriggerEvent:
        """The upstream run of flow ``key``, else the event named ``key``."""
        for event in self._events:
            if event.type == "run" and event.id.split("/")[0] == key:
                from flowkit.client.objects import Run

                return Run(event.id, _namespace_check=False)
            if event.type == "event" and event.name == key:
                return event
        raise KeyError(key)

    def __iter__(self) -> Iterator[TriggerEvent]:
        return iter(self._events)

    def __repr__(self) -> str:
        return f"Trigger({', '.join(f'{e.type} {e.name} {e.id}' for e in self._events)})"
