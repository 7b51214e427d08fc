"""Two runs side by side: ``GET /api/compare?a=F/RUN&b=F/RUN``. Parameters, steps (matched by
name, also across flows; code compared by the step source each run recorded) and, for steps
with one task in both runs, artifacts by digest: equal digests are equal values, so nothing
is loaded to know it; only values of at most ``TEXT_BYTES`` stored are loaded, for a repr."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import BaseRoute, Route

from flowkit.client import Run
from flowkit.store import Store, TaskRecord
from flowkit.store.records import ArtifactRef
from flowkit.ui.common import (
    ApiError,
    UiContext,
    context,
    handler,
    open_run,
    run_summary,
    short_repr,
)
from flowkit.ui.run_model import RunTasks, read_tasks, split_totals, step_state

#: A value stored in at most this many bytes is loaded for its repr.
TEXT_BYTES = 4096
#: How long that repr may be.
TEXT_CHARS = 200


def compare(request: Request) -> dict[str, Any]:
    ui = context(request)
    a, b = _run(ui, request, "a"), _run(ui, request, "b")
    tasks_a, tasks_b = read_tasks(ui.store, a.record), read_tasks(ui.store, b.record)
    return {
        "a": run_summary(a),
        "b": run_summary(b),
        "parameters": _parameters(a, b),
        "steps": _steps(a, b, tasks_a, tasks_b),
        "artifacts": _artifacts(ui.store, tasks_a, tasks_b),
    }


def _run(ui: UiContext, request: Request, name: str) -> Run:
    raw = request.query_params.get(name, "")
    flow, _, run_id = raw.partition("/")
    if not flow or not run_id or "/" in run_id:
        raise ApiError(
            400,
            f"query parameter {name}={raw!r} is not a run",
            "give both runs as FLOW/RUN_ID: /api/compare?a=F/RUN&b=F/RUN",
        )
    return open_run(ui, flow, run_id)


def _differences_first(rows: list[dict[str, Any]], same: str = "same") -> list[dict[str, Any]]:
    return sorted(rows, key=lambda row: bool(row[same]))  # stable: order kept within each


def _parameters(a: Run, b: Run) -> list[dict[str, Any]]:
    pa, pb = a.record.parameters, b.record.parameters
    rows = []
    for name in sorted(set(pa) | set(pb)):
        ra = short_repr(pa[name]) if name in pa else None
        rb = short_repr(pb[name]) if name in pb else None
        rows.append(
            {"name": name, "a": ra, "b": rb, "same": name in pa and name in pb and ra == rb}
        )
    return _differences_first(rows)


def _steps(a: Run, b: Run, tasks_a: RunTasks, tasks_b: RunTasks) -> list[dict[str, Any]]:
    names = tasks_a.order + [s for s in tasks_b.order if s not in tasks_a.order]
    totals_a, totals_b = split_totals(tasks_a), split_totals(tasks_b)
    rows = []
    for name in names:
        code_a, code_b = a.record.step_code.get(name), b.record.step_code.get(name)
        side_a, side_b = _step(tasks_a, name, totals_a), _step(tasks_b, name, totals_b)
        changed = code_a is not None and code_b is not None and code_a != code_b
        row = {
            "name": name,
            "in_a": side_a is not None,
            "in_b": side_b is not None,
            "code_changed": changed,
            "a": side_a,
            "b": side_b,
            "same": not changed and _shape(side_a) is not None and _shape(side_a) == _shape(side_b),
        }
        rows.append(row)
    ordered = _differences_first(rows)
    for row in ordered:
        del row["same"]
    return ordered


def _shape(side: dict[str, Any] | None) -> tuple[Any, ...] | None:
    # spans always differ a little: a step is the same when it ended alike with as many tasks
    return None if side is None else (side["phase"], side["tasks"])


def _step(run: RunTasks, name: str, totals: dict[str, int | None]) -> dict[str, Any] | None:
    if name not in run.order:
        return None
    records = run.tasks.get(name, [])
    state = step_state(name, records, totals)
    ends = [r.finished_at for r in records]
    span = None
    if records and None not in ends:
        span = max(e for e in ends if e is not None) - min(r.started_at for r in records)
    return {"phase": state["phase"], "tasks": len(records), "span": span}


def _artifacts(store: Store, tasks_a: RunTasks, tasks_b: RunTasks) -> list[dict[str, Any]]:
    rows = []
    for step in tasks_a.order:
        one_a, one_b = tasks_a.tasks.get(step, []), tasks_b.tasks.get(step, [])
        if len(one_a) != 1 or len(one_b) != 1:
            continue
        refs_a, refs_b = _refs(one_a[0]), _refs(one_b[0])
        for name in sorted(set(refs_a) | set(refs_b)):
            ref_a, ref_b = refs_a.get(name), refs_b.get(name)
            same = ref_a is not None and ref_b is not None and ref_a.digest == ref_b.digest
            rows.append(
                {
                    "step": step,
                    "name": name,
                    "same": same,
                    "a": _side(store, ref_a),
                    "b": _side(store, ref_b),
                }
            )
    return _differences_first(rows)


def _refs(record: TaskRecord) -> dict[str, ArtifactRef]:
    return record.artifacts if record.successful else {}


def _side(store: Store, ref: ArtifactRef | None) -> dict[str, Any] | None:
    if ref is None:
        return None
    return {"type": ref.type, "size": ref.size, "digest": ref.digest, "text": _text(store, ref)}


def _text(store: Store, ref: ArtifactRef) -> str | None:
    if ref.size > TEXT_BYTES:
        return None
    try:
        value = store.values.load_artifact(ref)
    except Exception:  # unpickling runs the value's own code: any error; the digest still compares
        return None
    return short_repr(value, TEXT_CHARS)


routes: list[BaseRoute] = [Route("/api/compare", handler(compare), methods=["GET"])]
