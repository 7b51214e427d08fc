"""What is due for one deployment at one moment: schedule slots, upstream runs that
succeeded, and events, oldest first within each, each with the claim that fires it once.

- **Slots**: every fire time of the schedule after the last one considered (never before
  the flow was deployed, nor before a redeploy that changed its cron, zone or catchup) up
  to now. With ``catchup=False`` (the default) only the latest
  of them runs (found with :meth:`CronSchedule.previous`, however long the scheduler was
  down: the slots in between are never enumerated), and one item reports the others as
  missed. With ``catchup=True`` each runs, oldest first.
- **Upstream runs** (``@trigger_on_finish``): each run of an upstream flow that ended in
  success after the flow was deployed fires once; one that failed, was cancelled or
  crashed never does. Runs are read in id order from the last one settled, so a run still
  going is looked at again on the next tick. A run whose id is not time-sorted (a resume
  given ``--run-id``) is looked at on every tick (its claim keeps it to one run): the
  cursor never moves past it, or every later run would sort below the cursor.
- **Events** (``@trigger``): each event of the names the flow waits for, published after
  the flow was deployed, fires once, with the parameters mapped from its payload (a field
  the payload lacks leaves the parameter at its default).

Ids are made before their record is written, by many processes: a run or event with an
older id can appear after a newer one was read. So the cursors stay :data:`SETTLE` seconds
behind the present: what is younger is looked at again on the next ticks (its claim keeps
it to one run), and what appears late within that time is not passed over.

Nothing here writes: :mod:`flowkit.deploy.loop` claims, starts and moves the cursors.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from flowkit.authoring.scheduling import schedule_tag
from flowkit.client.trigger import trigger_tags
from flowkit.fastdata import dataclass, field
from flowkit.store.deployments import Deployment, Deployments, SchedulerState
from flowkit.store.ids import id_time

if TYPE_CHECKING:
    from flowkit.store import Store

Kind = Literal["schedule", "run", "event"]
#: Seconds a cursor stays behind the present (see the module's docstring): a run or event
#: record appears within this time of its id being made.
SETTLE = 60.0


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
    yield from _events(store.deployments, deployment, state)


def _slots(deployment: Deployment, state: SchedulerState, now: datetime) -> Iterator[Due]:
    from flowkit.authoring.cron import CronSchedule

    if deployment.cron is None:
        return
    schedule = CronSchedule(deployment.cron, deployment.timezone)
    since = deployment.slots_since  # a slot before the schedule took its form never fires
    after = max(state.slot or since, since)
    start = datetime.fromtimestamp(after, UTC)
    if deployment.catchup:
        for fire in schedule.slots(start, now):
            yield _slot_due(deployment, fire.timestamp())
        return
    latest = schedule.previous(now)
    if latest is None or latest <= start:
        return
    first = schedule.next_after(start)
    if first < latest:  # slots the scheduler was away for: reported, never run
        last_missed = schedule.previous(latest - timedelta(seconds=1))
        assert last_missed is not None  # first is one, before latest
        which = (
            f"slot {iso(first.timestamp())} was"
            if last_missed == first
            else f"slots {iso(first.timestamp())} to {iso(last_missed.timestamp())} were"
        )
        yield Due(
            "schedule",
            f"slot.{int(last_missed.timestamp())}",
            f"{which} missed (catchup=False runs only the latest)",
            "",
            cursor=last_missed.timestamp(),
            missed=True,
        )
    yield _slot_due(deployment, latest.timestamp())


def _slot_due(deployment: Deployment, slot: float) -> Due:
    return Due(
        "schedule",
        f"slot.{int(slot)}",
        f"schedule {deployment.schedule_written or deployment.cron} slot {iso(slot)}",
        schedule_tag(slot, deployment.timezone),
        cursor=slot,
    )


def time_sorted(value: str) -> bool:
    """Whether ``value`` is one of the store's time-sorted ids (a run id given with
    ``--run-id`` is not: it sorts anywhere)."""
    return id_time(value) is not None


def settled(value: str, now: float) -> bool:
    """Whether a cursor may move past the time-sorted id ``value`` at ``now`` (real time):
    no record with a smaller id can still appear."""
    made = id_time(value)
    return made is not None and made <= now - SETTLE


def _upstream_runs(store: Store, deployment: Deployment, state: SchedulerState) -> Iterator[Due]:
    for upstream in deployment.on_finish:
        after = state.runs.get(upstream, "")
        for run_id in store.records.list_runs(upstream):
            if run_id <= after and time_sorted(run_id):
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


def settled_runs(
    store: Store, upstream: str, after: str, before: str | None = None, *, now: float
) -> str:
    """The newest run id of ``upstream`` (below ``before``, a run still waiting to fire)
    such that every run up to it has ended or crashed and is older than :data:`SETTLE`
    (at ``now``, real time): the cursor may move there, as none of them can fire any
    more. Ids that are not time-sorted are passed over: the cursor never lands on one."""
    found = after
    for run_id in store.records.list_runs(upstream):
        if not time_sorted(run_id) or run_id <= after:
            continue
        if (before is not None and run_id >= before) or not settled(run_id, now):
            break
        if store.records.get_run_end(upstream, run_id) is None:
            record = store.records.get_run(upstream, run_id)
            if store.leases.run_state(record) == "running":
                break
        found = run_id
    return found


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
