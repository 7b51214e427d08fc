"""The step page's API: ``/api/runs/F/RUN/STEP`` (its tasks, a page at a time, and their
durations) and ``/api/flows/F/steps/STEP/history`` (the step's duration over past runs)."""

from __future__ import annotations

import statistics
from typing import Any

from starlette.requests import Request
from starlette.routing import BaseRoute, Route

from flowkit.store import NotFoundError, RunRecord, Store
from flowkit.ui.common import ApiError, context, handler, open_run, page_url, query_int
from flowkit.ui.run_model import (
    TASK_STATUSES,
    duration,
    duration_stats,
    read_tasks,
    split_totals,
    step_state,
    task_row,
    task_status,
)

#: Tasks per page: by default, and at most.
TASKS_PAGE, TASKS_MAX = 200, 2000
#: Past runs in a step's history by default.
HISTORY_RUNS = 30


def step_detail(request: Request) -> dict[str, Any]:
    ui = context(request)
    flow, run_id, step = (request.path_params[k] for k in ("flow", "run_id", "step"))
    run = open_run(ui, flow, run_id)
    status = run.status  # before the tasks: a page stops polling once the run ended
    tasks = read_tasks(ui.store, run.record, ended=status not in ("running", "crashed"))
    if step not in tasks.order:
        raise ApiError(
            404,
            f"run {run.pathspec} has no step {step!r}",
            f"its steps: {', '.join(tasks.order) or 'none'}",
        )
    statuses = request.query_params.getlist("status")
    unknown = sorted(set(statuses) - TASK_STATUSES)
    if unknown:
        raise ApiError(
            400,
            f"query parameter status={unknown[0]!r} is not a task status",
            f"one of: {', '.join(sorted(TASK_STATUSES))}",
        )
    limit = query_int(request, "limit", TASKS_PAGE, low=1, high=TASKS_MAX)
    offset = query_int(request, "cursor", 0)
    records = tasks.tasks.get(step, [])
    chosen = sorted(
        (r for r in records if not statuses or task_status(r) in statuses),
        key=lambda r: (r.foreach, r.task_id),
    )
    page = chosen[offset : offset + limit]
    ran = [duration(r) for r in records if r.origin_pathspec is None]
    return (
        {
            "flow": flow,
            "run_id": run_id,
            "step": step,
            "pathspec": f"{flow}/{run_id}/{step}",
            "url": page_url(flow, run_id, step),
            "run_status": status,
        }
        | step_state(step, records, split_totals(tasks), running=status == "running")
        | {
            "code": run.record.step_code.get(step),
            "durations": duration_stats([d for d in ran if d is not None]),
            "tasks": [task_row(r) for r in page],
            "next": str(offset + limit) if offset + limit < len(chosen) else None,
            "count": len(chosen),
        }
    )


def step_history(request: Request) -> dict[str, Any]:
    ui = context(request)
    flow, step = request.path_params["flow"], request.path_params["step"]
    if flow not in ui.store.records.list_flows():
        raise NotFoundError(
            f"flow {flow} is not in the store at {ui.store.url}",
            f"list the flows with: flowkit runs --store {ui.store.url}",
        )
    limit = query_int(request, "limit", HISTORY_RUNS, low=1, high=500)
    points: list[dict[str, Any]] = []
    for record in ui.store.records.iter_runs(flow):
        point = _point(ui.store, record, step)
        if point is not None:
            points.append(point)
            if len(points) == limit:
                break
    return {"flow": flow, "step": step, "points": points[::-1]}


def _point(store: Store, record: RunRecord, step: str) -> dict[str, Any] | None:
    """The step in one run: its tasks, span and median duration; None where the step did
    not run there (no task, or every one cloned)."""
    ran = [
        r
        for r in store.records.list_tasks(record.flow, record.run_id, step)
        if r.origin_pathspec is None
    ]
    if not ran:
        return None
    ends = [r.finished_at for r in ran if r.finished_at is not None]
    spans = [d for d in (duration(r) for r in ran) if d is not None]
    return {
        "run_id": record.run_id,
        "url": page_url(record.flow, record.run_id),
        "created_at": record.created_at,
        "status": store.leases.run_state(record),
        "tasks": len(ran),
        "span": max(ends) - min(r.started_at for r in ran) if ends else None,
        "median": statistics.median(spans) if spans else None,
    }


routes: list[BaseRoute] = [
    Route("/api/runs/{flow}/{run_id}/{step}", handler(step_detail), methods=["GET"]),
    Route("/api/flows/{flow}/steps/{step}/history", handler(step_history), methods=["GET"]),
]
