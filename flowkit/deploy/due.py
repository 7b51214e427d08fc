"""What is due for one deployment at one moment: schedule slots, upstream runs that
succeeded, and events, oldest first within each, each with the claim that fires it once.

- **Slots**: every fire time of the schedule after the last one considered (never before
  the flow was deployed) up to now. With ``catchup=False`` (the default) only the latest
  of them runs; the others are reported as missed. With ``catchup=True`` each runs, oldest
  first.
- **Upstream runs** (``@trigger_on_finish``): each run of an upstream flow that ended in
  success after the flow was deployed fires once; one that failed, was cancelled or
  crashed never does. Runs are read in id order from the last one settled, so a run still
  going is looked at again on the next tick.
- **Events** (``@trigger``): each event of the names the flow waits for, published after
  the flow was deployed, fires once, with the parameters mapped from its payload (a field
  the payload lacks leaves the parameter at its default).

Nothing here writes: :mod:`flowkit.deploy.loop` claims, starts and moves the cursors.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from flowkit.client.trigger import trigger_tags
from flowkit.store.deployments import Deployment, Deployments, SchedulerState

if TYPE_CHECKING:
    from flowkit.store import Store

Kind = Literal["schedule", "run", "event"]


@dataclass(frozen=True)
class Due:
    """One reason to start the flow: its claim, what to say, its run's system tag and
    parameters, and the cursor it moves once handled (fired, or skipped for good)."""

    kind: Kind
    claim: str
    reason: str
    tag: str
    params: dict[str, Any] = field(default_factory=dict)
    #: ``schedule``: the slot (seconds); ``run``: (upstream flow, run id); ``event``:
    #: (event name, event id).
    cursor: Any = None
    #: Only reported, never started: a slot ``catchup=False`` passes over.
    missed: bool = False


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def due(
    store: Store, deployment: Deployment, state: SchedulerState, now: datetime
) -> Iterator[Due]:
    """Everything due for ``deployment`` at ``now``, given how far ``state`` got."""
    yield from _slots(deployment, state, now)
    yield from _upstream_runs(store, deployment, state)
    yield from _events(Deployments(store.backend), deployment, state)


def _slots(deployment: Deployment, state: SchedulerState, now: datetime) -> Iterator[Due]:
    from flowkit.authoring.cron import CronSchedule

    if deployment.cron is None:
        return
    schedule = CronSchedule(deployment.cron, deployment.timezone)
    after = max(state.slot or deployment.active_since, deployment.active_since)
    slots = [s.timestamp() for s in schedule.slots(datetime.fromtimestamp(after, UTC), now)]
    if not deployment.catchup:
        for slot in slots[:-1]:
            yield Due(
                "schedule",
                f"slot.{int(slot)}",
                f"slot {iso(slot)} was missed (catchup=False runs only the latest)",
                "",
                cursor=slot,
                missed=True,
            )
        slots = slots[-1:]
    for slot in slots:
        yield Due(
            "schedule",
            f"slot.{int(slot)}",
            f"schedule {deployment.schedule_written or deployment.cron} slot {iso(slot)}",
            trigger_tags("schedule", iso(slot), slot),
            cursor=slot,
        )


def _upstream_runs(store: Store, deployment: Deployment, state: SchedulerState) -> Iterator[Due]:
    for upstream in deployment.on_finish:
        after = state.runs.get(upstream, "")
        for run_id in store.records.list_runs(upstream):
            if run_id <= after:
                continue
            end = store.records.get_run_end(upstream, run_id)
            if (
                end is None
                or end.status != "succeeded"
                or end.finished_at < deployment.active_since
            ):
                continue  # going on (looked at again later), failed, or ended before deploy
            yield Due(
                "run",
                f"run.{upstream}.{run_id}",
                f"{upstream}/{run_id} succeeded",
                trigger_tags("run", f"{upstream}/{run_id}", end.finished_at),
                cursor=(upstream, run_id),
            )


def settled_runs(store: Store, upstream: str, after: str, before: str | None = None) -> str:
    """The newest run id of ``upstream`` (below ``before``, a run still waiting to fire)
    such that every run up to it has ended or crashed: the cursor may move there, as none
    of them can fire any more."""
    settled = after
    for run_id in store.records.list_runs(upstream):
        if run_id <= after:
            continue
        if before is not None and run_id >= before:
            break
        if store.records.get_run_end(upstream, run_id) is None:
            record = store.records.get_run(upstream, run_id)
            if store.leases.run_state(record) == "running":
                break
        settled = run_id
    return settled


def _events(registry: Deployments, deployment: Deployment, state: SchedulerState) -> Iterator[Due]:
    for spec in deployment.events:
        for event in registry.events_after(spec.name, state.events.get(spec.name)):
            if event.published_at < deployment.active_since:
                continue
            params = {p: event.payload[f] for p, f in spec.parameters if f in event.payload}
            yield Due(
                "event",
                f"event.{event.name}.{event.id}",
                f"event {event.name} {event.id}",
                trigger_tags("event", f"{event.name}/{event.id}", event.published_at),
                params=params,
                cursor=(event.name, event.id),
            )
