"""A run's steps, tasks and failures as plain data, built from its records (one step-index
read per step, never a task's artifacts): what the run and step pages of the UI show."""

from __future__ import annotations

import statistics
import threading
from collections import Counter, OrderedDict
from typing import Any

from flowkit.client.dag import caption, depths, phase
from flowkit.fastdata import dataclass
from flowkit.store import RunRecord, Store, TaskRecord
from flowkit.ui.common import page_url
from flowkit.ui.letters import exception_json

#: The statuses a TaskRow can have.
TASK_STATUSES = frozenset({"running", "succeeded", "caught", "failed", "killed", "cloned"})
#: The statuses that count a task as done.
DONE = ("succeeded", "caught", "cloned")


def task_status(record: TaskRecord) -> str:
    """The latest attempt's status, or ``cloned`` for a task copied from an earlier run."""
    return "cloned" if record.origin_pathspec else record.status


def duration(record: TaskRecord) -> float | None:
    return None if record.finished_at is None else record.finished_at - record.started_at


def task_row(record: TaskRecord) -> dict[str, Any]:
    """A task's row in a list (the TaskRow of docs/ui.md)."""
    parts = (record.flow, record.run_id, record.step, record.task_id)
    return {
        "task_id": record.task_id,
        "pathspec": "/".join(parts),
        "url": page_url(*parts),
        "status": task_status(record),
        "attempt": record.attempt,
        "started_at": record.started_at,
        "finished_at": record.finished_at,
        "duration": duration(record),
        "index": list(record.foreach),
        "origin_pathspec": record.origin_pathspec,
        "failure": record.failure,
    }


@dataclass(frozen=True)
class RunTasks:
    """Every step of a run in graph order (the steps it never reached too), where each goes,
    and the latest attempt of each of its tasks."""

    flow: str
    run_id: str
    order: list[str]
    next: dict[str, list[str]]
    tasks: dict[str, list[TaskRecord]]


#: Runs that ended, read once: their records never change again (the newest kept).
_ENDED: OrderedDict[tuple[Store, str, str], RunTasks] = OrderedDict()
ENDED_KEPT = 8
_ENDED_LOCK = threading.Lock()


def read_tasks(store: Store, record: RunRecord, *, ended: bool = False) -> RunTasks:
    """The run's steps and tasks: one listing of its steps and one index read per step.
    A run that ``ended`` (its end record exists) is read once and kept: a page polling a
    finished 10,000-task run does not decode its step indexes again."""
    if not ended:
        return _read_tasks(store, record)
    key = (store, record.flow, record.run_id)
    with _ENDED_LOCK:
        found = _ENDED.get(key)
        if found is not None:
            _ENDED.move_to_end(key)
            return found
    found = _read_tasks(store, record)
    with _ENDED_LOCK:
        _ENDED[key] = found
        while len(_ENDED) > ENDED_KEPT:
            _ENDED.popitem(last=False)
    return found


def _read_tasks(store: Store, record: RunRecord) -> RunTasks:
    flow, run_id = record.flow, record.run_id
    present = store.records.list_steps(flow, run_id)
    order = list(record.steps)
    order += [s for s in record.graph if s not in order]
    order += [s for s in present if s not in order]
    tasks = {s: store.records.list_tasks(flow, run_id, s) for s in present}
    edges = {s: [t for t in record.graph.get(s, ()) if t in order] for s in order}
    for step, records in tasks.items():  # a run from before graphs were recorded
        for task in records:
            for target in task.next_steps:
                if target in edges and target not in edges[step]:
                    edges[step].append(target)
    return RunTasks(flow, run_id, order, edges, tasks)


def split_totals(run: RunTasks) -> dict[str, int | None]:
    """For each foreach body, how many tasks it will have: the sum of its split tasks'
    ``foreach_count`` (each split task of a nested foreach adds its own), once every split
    task ended and the split step has all of its own; None while that is not known yet."""
    totals: dict[str, int | None] = {}
    for step in run.order:  # graph order: an outer split's total is known before an inner
        splits = [t for t in run.tasks.get(step, []) if t.foreach_count is not None]
        if not splits:
            continue
        ended = all(t.status in ("succeeded", "caught") for t in run.tasks[step])
        expected = totals.get(step)
        whole = step not in totals or (expected is not None and expected == len(run.tasks[step]))
        for body in {b for t in splits for b in t.next_steps}:
            totals[body] = sum(t.foreach_count or 0 for t in splits) if ended and whole else None
    return totals


def step_state(
    step: str,
    records: list[TaskRecord],
    totals: dict[str, int | None],
    *,
    running: bool = False,
) -> dict[str, Any]:
    """A step's phase, caption, counts, done/total and times (no URL, no place in the DAG);
    a step without tasks is ``waiting`` while the run runs, else ``not run``."""
    counts = Counter(task_status(r) for r in records)
    known = totals.get(step)
    total = len(records) if known is None else max(known, len(records))
    ends = [r.finished_at for r in records]
    finished = None if not ends or None in ends else max(e for e in ends if e is not None)
    if step in totals and (known is None or len(records) < known):
        finished = None  # more tasks are to come
    unstarted = Counter({"waiting": total - len(records)}) if total > len(records) else Counter()
    return {
        "phase": "waiting" if running and not records else phase(counts),
        "caption": caption(counts + unstarted),
        "counts": dict(sorted(counts.items())),
        "done": sum(counts[s] for s in DONE),
        "total": total,
        "foreach": step in totals,
        "started_at": min((r.started_at for r in records), default=None),
        "finished_at": finished,
    }


def steps_json(run: RunTasks, *, running: bool) -> list[dict[str, Any]]:
    """The ``steps`` of the run API: graph order, each with its place in the DAG."""
    totals = split_totals(run)
    depth = depths([(s, run.next[s]) for s in run.order])
    rows: Counter[int] = Counter()
    answer = []
    for step in run.order:
        d = depth.get(step, 0)
        place = {"name": step, "url": page_url(run.flow, run.run_id, step), "next": run.next[step]}
        answer.append(
            place
            | {"depth": d, "row": rows[d]}
            | step_state(step, run.tasks.get(step, []), totals, running=running)
        )
        rows[d] += 1
    return answer


def failures(run: RunTasks, letters: dict[tuple[str, str], str]) -> list[dict[str, Any]]:
    """The latest attempts that failed or were killed, in graph order; ``letters`` maps
    ``(step, task_id)`` to the dead letter naming that task."""
    found = []
    for step in run.order:
        for r in run.tasks.get(step, []):
            if r.origin_pathspec is None and r.status in ("failed", "killed"):
                parts = (r.flow, r.run_id, r.step, r.task_id)
                found.append(
                    {
                        "pathspec": "/".join(parts),
                        "url": page_url(*parts),
                        "step": step,
                        "task_id": r.task_id,
                        "attempt": r.attempt,
                        "failure": r.failure,
                        "exception": exception_json(r.exception),
                        "dead_letter": letters.get((step, r.task_id)),
                    }
                )
    return found


def duration_stats(values: list[float]) -> dict[str, float] | None:
    """min, median, p95 and max of ``values``; None for none."""
    if not values:
        return None
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, max(0, -(-95 * len(ordered) // 100) - 1))]
    return {
        "min": ordered[0],
        "median": statistics.median(ordered),
        "p95": p95,
        "max": ordered[-1],
    }
