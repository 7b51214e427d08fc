"""How long things took: how every view words a duration (the terminal, the notebook widget, a
flow's runs), and the durations of a flow's recent successful runs, read once from the store
(for ``flowkit show FLOW``'s trends and the runtime's learned SLAs)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flowkit.store import RunEndRecord, RunRecord, Store

#: Eight heights, lowest to highest, for :func:`sparkline`.
_BARS = "▁▂▃▄▅▆▇█"


def format_duration(seconds: float) -> str:
    """``0.42s``, ``12.3s``, ``4m05s``, ``2h03m``: short, and precise where it matters."""
    if seconds < 10:
        return f"{seconds:.2f}s"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


@dataclass(frozen=True)
class StepTimes:
    """One step in one run: the seconds each of its tasks that ran there took (its final
    attempt, start to end; clones are left out: they ran in another run), and the step's
    wall time, from its first task's start to its last task's end."""

    tasks: tuple[float, ...]
    wall: float


@dataclass(frozen=True)
class RunTimes:
    """One successful run: its id, when it started, how long it took from its start record
    to its end record (None for a resume, whose clones took no time), and its steps'."""

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
    step's tasks in one object)."""
    flow, run_id = past.record.flow, past.record.run_id
    steps: dict[str, StepTimes] = {}
    for step in store.records.list_steps(flow, run_id):
        spans = [
            (task.started_at, task.finished_at)
            for task in store.records.list_tasks(flow, run_id, step)
            if task.successful and task.finished_at is not None and not task.origin_pathspec
        ]
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


def sparkline(values: Sequence[float]) -> str:
    """One bar per value, oldest first, scaled from the smallest to the largest (all the
    same height when they are all alike)."""
    if not values:
        return ""
    low, high = min(values), max(values)
    span = high - low
    if span <= 0:
        return _BARS[0] * len(values)
    top = len(_BARS) - 1
    return "".join(_BARS[round((v - low) / span * top)] for v in values)
