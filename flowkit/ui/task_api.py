"""``GET /api/runs/F/RUN/STEP/TASK``: one task attempt as the task page shows it (its
attempts, error, why it ran, parents and children, artifacts by name, log line counts),
from records only: no artifact is loaded."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import Any

from starlette.requests import Request
from starlette.routing import BaseRoute, Route

from flowkit.client import lineage
from flowkit.store import Store
from flowkit.store.records import RunRecord, TaskRecord
from flowkit.ui.attempts import all_attempts, ended, line_counts, log_lines
from flowkit.ui.common import api_url, context, handler, page_url
from flowkit.ui.letters import exception_json
from flowkit.ui.run_model import read_tasks, task_status

#: Parents or children listed at most (a join of 10,000 tasks names them all; a count says
#: how many there are).
LINKS_SHOWN = 100
#: A decision's action (the plan's word) as docs/ui.md words it.
ACTIONS = {"run": "ran", "clone": "cloned", "reuse": "reused"}


def exception_of(record: TaskRecord) -> dict[str, Any] | None:
    """The Exception shape of docs/ui.md for a failed attempt; None for any other (a step
    whose failure ``@catch`` handled included, as the client's ``Task.exception``)."""
    return None if record.successful else exception_json(record.exception)


def duration(record: TaskRecord, now: float) -> float | None:
    """Seconds the attempt ran; to now while it runs."""
    if record.finished_at is not None:
        return record.finished_at - record.started_at
    return max(0.0, now - record.started_at) if not record.final else None


def with_attempt(url: str, attempt: int | None) -> str:
    return url if attempt is None else f"{url}?attempt={attempt}"


def capped_links(pathspecs: Iterable[str]) -> tuple[list[dict[str, str]], int]:
    """The first :data:`LINKS_SHOWN` tasks as links, and how many there are."""
    shown, count = [], 0
    for pathspec in pathspecs:
        count += 1
        if count <= LINKS_SHOWN:
            shown.append({"pathspec": pathspec, "url": page_url(*pathspec.split("/"))})
    return shown, count


def _why(decisions: list[dict[str, Any]], record: TaskRecord) -> dict[str, Any] | None:
    for decision in decisions:
        if decision.get("step") == record.step and decision.get("task_id") == record.task_id:
            return {
                "action": ACTIONS.get(str(decision.get("action")), decision.get("action")),
                "reason": decision.get("reason"),
                "origin": decision.get("origin"),
            }
    return None


def _children(store: Store, run: RunRecord, record: TaskRecord) -> Iterator[str]:
    """The tasks that received this one's artifacts. A run that ended has its tasks read
    once and kept (the run page's read): a split's 10,000 children are not decoded from
    their step's index again on each visit."""
    next_steps = run.graph.get(record.step) or list(record.next_steps)
    if store.records.get_run_end(run.flow, run.run_id) is None:
        return lineage.child_pathspecs(store, record, next_steps)
    tasks = read_tasks(store, run, ended=True).tasks
    return lineage.children_among(record, (t for s in next_steps for t in tasks.get(s, ())))


def _clock(store: Store, run: RunRecord, attempts: list[TaskRecord]) -> float:
    """What an unfinished attempt's duration runs to: now, or a crashed run's last beat
    (nothing was heard of it since)."""
    now = time.time()
    if all(a.final for a in attempts) or store.leases.run_state(run, now=now) != "crashed":
        return now
    lease = store.leases.get(run.flow, run.run_id)
    return now if lease is None else min(now, lease.written_at)


def task_detail(request: Request) -> dict[str, Any]:
    store = context(request).store
    attempts, record = all_attempts(store, request)
    r = record
    asked = None if record is attempts[-1] else record.attempt
    run = store.records.get_run(r.flow, r.run_id)
    now = _clock(store, run, attempts)
    parents, parent_count = capped_links(lineage.parent_pathspecs(r))
    children, child_count = capped_links(_children(store, run, r))
    artifacts = [
        {
            "name": name,
            "type": ref.type,
            "size": ref.size,
            "digest": ref.digest,
            "url": with_attempt(page_url(r.flow, r.run_id, r.step, r.task_id, name), asked),
            "api": with_attempt(
                api_url(r.flow, r.run_id, r.step, r.task_id, "artifacts", name), asked
            ),
        }
        for name, ref in sorted(r.artifacts.items())
        if r.successful  # a failed attempt's artifacts are not a result
    ]
    attempt_arg = "" if asked is None else f", attempt={asked}"
    origin = r.origin_pathspec
    return {
        "flow": r.flow,
        "run_id": r.run_id,
        "step": r.step,
        "task_id": r.task_id,
        "pathspec": r.pathspec,
        "url": page_url(r.flow, r.run_id, r.step, r.task_id),
        "status": task_status(r),
        "attempt": r.attempt,
        "index": list(r.foreach),
        "origin_pathspec": origin,
        "origin_url": None if origin is None else page_url(*origin.split("/")),
        "host": r.host,
        "pid": r.pid,
        "started_at": r.started_at,
        "finished_at": r.finished_at,
        "duration": duration(r, now),
        "exit_code": r.exit_code,
        "failure": r.failure,
        "exception": exception_of(r),
        "attempts": [
            {
                "attempt": a.attempt,
                "status": task_status(a),
                "failure": a.failure,
                "started_at": a.started_at,
                "finished_at": a.finished_at,
                "duration": duration(a, now),
                "exception": exception_of(a),
            }
            for a in attempts
        ],
        "why": _why(store.index.read_explanation(r.flow, r.run_id), r),
        "parents": parents,
        "parent_count": parent_count,
        "children": children,
        "child_count": child_count,
        "artifacts": artifacts,
        "cards": [
            {
                "type": ref.type,
                "id": ref.id,
                "url": with_attempt(
                    api_url(r.flow, r.run_id, r.step, r.task_id, "cards", str(i)), asked
                ),
            }
            for i, ref in enumerate(r.cards)
        ],
        "snippet": f"Task('{r.pathspec}'{attempt_arg}).data",
        "logs": line_counts(log_lines(store, r, ended(store, r))),
    }


routes: list[BaseRoute] = [
    Route("/api/runs/{flow}/{run_id}/{step}/{task_id}", handler(task_detail), methods=["GET"]),
]
