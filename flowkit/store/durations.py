"""How long a flow's recent successful runs, and their steps' tasks, took: read from their
records, for ``flowkit show FLOW``'s trends and the runtime's learned SLAs (a store-level
read, so that the runtime needs nothing of the client)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from flowkit.fastdata import dataclass

if TYPE_CHECKING:
    from flowkit.store.records import RunEndRecord, RunRecord
    from flowkit.store.store import Store


@dataclass(frozen=True)
class StepTimes:
    """One step in one run: the seconds each of its tasks that ran there took (from its
    first attempt's start to its final attempt's end, as a live task's time is counted
    against its SLA: retries and their backoff included; clones are left out: they ran in
    another run), and the step's wall time, from its first task's start to its last task's
    end."""

    tasks: tuple[float, ...]
    wall: float


@dataclass(frozen=True)
class RunTimes:
    """One successful run: its id, when it started, how long it took from its start record
    to its end record (None for a resume, whose clones took no time), and its steps' (a
    step all of whose tasks were cloned is not among them)."""

    run_id: str
    created_at: float
    seconds: float | None
    steps: dict[str, StepTimes]


@dataclass(frozen=True)
class PastRun:
    """A run that succeeded, as its start and end records say."""

    record: RunRecord
    end: RunEndRecord

    @property
    def seconds(self) -> float | None:
        """From its start record to its end record; None for a resume (see RunTimes)."""
        return None if self.record.origin_run_id else self.end.finished_at - self.record.created_at


def successful_runs(store: Store, flow: str, *, runs: int = 20, scan: int = 200) -> list[PastRun]:
    """The last ``runs`` successful runs of ``flow``, newest first, from their start and end
    records alone. Runs that failed, were cancelled or are still going are skipped; at most
    ``scan`` runs are looked at, so a flow that has failed for weeks costs no more."""
    found: list[PastRun] = []
    for looked, record in enumerate(store.records.iter_runs(flow)):
        if len(found) == runs or looked == scan:
            break
        end = store.records.get_run_end(flow, record.run_id)
        if end is not None and end.status == "succeeded":
            found.append(PastRun(record, end))
    return found


def run_times(store: Store, past: PastRun) -> RunTimes:
    """The times of a past run and of its steps: one step index per step (the records of a
    step's tasks in one object), and the first attempt's record of each task that was
    retried (usually none)."""
    flow, run_id = past.record.flow, past.record.run_id
    steps: dict[str, StepTimes] = {}
    for step in store.records.list_steps(flow, run_id):
        ran = [
            task
            for task in store.records.list_tasks(flow, run_id, step)
            if task.successful and task.finished_at is not None and not task.origin_pathspec
        ]
        retried = [(step, t.task_id, 0) for t in ran if t.attempt > 0]
        firsts = {
            first.task_id: first.started_at
            for first in store.records.get_attempts(flow, run_id, retried)
            if first is not None
        }
        spans = [(firsts.get(t.task_id, t.started_at), t.finished_at or 0.0) for t in ran]
        if spans:
            wall = max(f for _, f in spans) - min(s for s, _ in spans)
            steps[step] = StepTimes(tuple(f - s for s, f in spans), wall)
    return RunTimes(run_id, past.record.created_at, past.seconds, steps)


def recent_times(store: Store, flow: str, *, runs: int = 20) -> list[RunTimes]:
    """The times of the last ``runs`` successful runs of ``flow`` and of their steps, newest
    first (see :func:`successful_runs` and :func:`run_times`)."""
    return [run_times(store, past) for past in successful_runs(store, flow, runs=runs)]


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) of ``values`` by the nearest-rank method: a value
    that was actually seen, at or above ``q`` percent of them."""
    if not values:
        raise ValueError("the percentile of no values")
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]
