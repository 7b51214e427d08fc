"""The run's timeline: every attempt that ran in the run, packed into lanes per step (no two
bars of one step overlap, a lane is reused once free) with its stragglers marked. Plain data
in and out; the attempts before each task's latest are found by one listing per step."""

from __future__ import annotations

import heapq
import math
import statistics
from collections.abc import Sequence
from typing import Any

from flowkit.store import Store, TaskRecord
from flowkit.ui.run_model import RunTasks

COLUMNS = ["step", "lane", "task_id", "attempt", "start", "end", "status", "straggler"]
#: A step needs this many tasks before any of them can be a straggler.
STRAGGLER_MIN_TASKS = 5
#: A straggler takes at least this many seconds more than the step's median: among
#: 10,000 tasks of 10 ms, hundreds take twice the median by scheduling noise alone.
STRAGGLER_MIN_EXCESS = 1.0


def pack_lanes(intervals: Sequence[tuple[float, float | None]]) -> tuple[list[int], int]:
    """Greedy interval partitioning: each ``(start, end)`` (end None: still running) gets
    the lane that freed up earliest, if it is free by its start, else a new lane. The lane
    of each interval, in the order given, and how many lanes there are (the fewest that
    can hold them: as many as overlap at the busiest moment)."""
    order = sorted(range(len(intervals)), key=lambda i: intervals[i][0])
    lanes = [0] * len(intervals)
    free: list[tuple[float, int]] = []  # (when the lane frees up, lane)
    count = 0
    for i in order:
        start, end = intervals[i]
        if free and free[0][0] <= start:
            _, lane = heapq.heappop(free)
        else:
            lane, count = count, count + 1
        lanes[i] = lane
        heapq.heappush(free, (math.inf if end is None else max(end, start), lane))
    return lanes, count


def stragglers(durations: Sequence[float | None], tasks: int) -> list[bool]:
    """Which successful attempts (their durations; None for any other attempt) are
    stragglers: of a step with at least 5 tasks, slower than twice the median of the
    successful ones, by at least :data:`STRAGGLER_MIN_EXCESS` seconds, and among their
    slowest 5 %."""
    done = sorted(d for d in durations if d is not None)
    if tasks < STRAGGLER_MIN_TASKS or not done:
        return [False] * len(durations)
    cutoff = done[len(done) - max(1, math.ceil(len(done) * 0.05))]
    median = statistics.median(done)
    slow = max(2 * median, median + STRAGGLER_MIN_EXCESS)
    return [d is not None and d > slow and d >= cutoff for d in durations]


def attempts(store: Store, run: RunTasks, step: str) -> list[TaskRecord]:
    """Every attempt that ran in the run of ``step``: the latest ones from the step's
    index, the earlier ones (retries) found by one listing and read one by one."""
    latest = [r for r in run.tasks.get(step, []) if r.origin_pathspec is None]
    last = {r.task_id: r.attempt for r in latest}
    earlier = (
        [
            (step, task_id, attempt)
            for (task_id, attempt) in store.records.attempt_marks(run.flow, run.run_id, step)
            if task_id in last and attempt < last[task_id]
        ]
        if any(a > 0 for a in last.values())
        else []
    )
    found = store.records.get_attempts(run.flow, run.run_id, earlier) if earlier else []
    return [r for r in found if r is not None] + latest


def timeline(
    store: Store, run: RunTasks, start: float, end: float | None, now: float
) -> dict[str, Any]:
    """The timeline API's answer (docs/ui.md) for a run that started at ``start`` and
    ended at ``end`` (None while it runs)."""
    steps: list[dict[str, Any]] = []
    bars: list[list[Any]] = []
    last_end = start
    for step in run.order:
        records = run.tasks.get(step, [])
        if not records:
            continue
        ran = sorted(attempts(store, run, step), key=lambda r: (r.started_at, r.task_id))
        lanes, count = pack_lanes([(r.started_at, r.finished_at) for r in ran])
        slow = stragglers(
            [
                r.finished_at - r.started_at
                if r.status == "succeeded" and r.finished_at is not None
                else None
                for r in ran
            ],
            len(records),
        )
        index = len(steps)
        cloned = sum(1 for r in records if r.origin_pathspec is not None)
        steps.append({"name": step, "lanes": count, "tasks": len(records), "cloned": cloned})
        for r, lane, straggler in zip(ran, lanes, slow, strict=True):
            bars.append(
                [
                    index,
                    lane,
                    r.task_id,
                    r.attempt,
                    r.started_at,
                    r.finished_at,
                    r.status,
                    straggler,
                ]
            )
            last_end = max(last_end, r.finished_at or r.started_at)
    return {
        "start": start,
        "end": end if end is not None else max(last_end, now),
        "now": now,
        "steps": steps,
        "columns": COLUMNS,
        "bars": bars,
    }
