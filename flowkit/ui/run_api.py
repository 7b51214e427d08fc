"""The run page's API: ``/api/runs/F/RUN`` (header, DAG states, failures, dead letters) and
``/api/timeline/F/RUN`` (every attempt, packed into lanes per step)."""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from typing import Any

from starlette.requests import Request
from starlette.routing import BaseRoute, Route

from flowkit.client import Run
from flowkit.client.code import RunCode
from flowkit.store import Store
from flowkit.ui.common import context, handler, open_run, page_url, run_summary
from flowkit.ui.letters import dead_letter_row, run_letters
from flowkit.ui.run_model import failures, read_tasks, steps_json
from flowkit.ui.timeline import timeline

#: Each action of a run's explanation (plan.reuse's ``Action``) and the word the API counts it by.
EXPLAINED = {"run": "ran", "clone": "cloned", "reuse": "reused"}
#: Fields of the run answer that move with the clock alone: left out of its ``version``.
CLOCK_FIELDS = frozenset({"duration", "version"})


def run_detail(request: Request) -> dict[str, Any]:
    ui = context(request)
    run = open_run(ui, request.path_params["flow"], request.path_params["run_id"])
    record = run.record
    answer = run_summary(run)
    end = run.end_record if answer["status"] not in ("running", "crashed") else None
    beat = run.heartbeat_at
    tasks = read_tasks(ui.store, record, ended=end is not None)
    letters = run_letters(ui.store, run.flow_name, run.id)
    named = {(x.step, x.task_id): x.id for x in letters}
    actions = Counter(str(d.get("action")) for d in run.explanation)
    origin = record.origin_run_id
    answer |= {
        "heartbeat_at": None if beat is None else beat.timestamp(),
        "message": None if end is None else end.message,
        "source": record.source,
        "code": _code(ui.store, run),
        "resume": {
            "command": run.resume_hint if record.source is not None else None,
            "python": f"flowkit.resume({run.flow_name}, origin_run_id={run.id!r})",
        },
        "origin": None
        if origin is None
        else {"pathspec": f"{run.flow_name}/{origin}", "url": page_url(run.flow_name, origin)},
        "steps": steps_json(tasks, running=answer["status"] == "running"),
        "failures": failures(tasks, named),
        "dead_letters": [dead_letter_row(ui.store, x) for x in reversed(letters)],
        "explanation": {word: actions[action] for action, word in EXPLAINED.items()},
    }
    answer["version"] = version(answer)
    return answer


def version(answer: dict[str, Any]) -> str:
    """A digest of the answer but for what moves with the clock alone."""
    stable = {k: v for k, v in answer.items() if k not in CLOCK_FIELDS}
    text = json.dumps(stable, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _code(store: Store, run: Run) -> dict[str, Any] | None:
    digest = run.record.code_digest
    if digest is None:
        return None
    files, flow_file = _package_files(store, digest, run.pathspec)
    return {"digest": digest, "files": list(files), "flow_file": flow_file}


#: (store, package digest) -> the package's files and flow file, oldest dropped first.
_PACKAGES: dict[tuple[Store, str], tuple[tuple[str, ...], str | None]] = {}
PACKAGES_KEPT = 256


def _package_files(store: Store, digest: str, run: str) -> tuple[tuple[str, ...], str | None]:
    # the file list is inside the package's one blob: it is loaded once per digest (the
    # package is content-addressed, so every run of the same code shares the answer)
    found = _PACKAGES.get((store, digest))
    if found is None:
        code = RunCode(store, digest, run)
        found = tuple(code.files), code.flow_file
        if len(_PACKAGES) >= PACKAGES_KEPT:
            _PACKAGES.pop(next(iter(_PACKAGES)), None)
        _PACKAGES[store, digest] = found
    return found


def run_timeline(request: Request) -> dict[str, Any]:
    ui = context(request)
    run = open_run(ui, request.path_params["flow"], request.path_params["run_id"])
    now = time.time()
    end = run.end_record
    beat = run.heartbeat_at
    if end is None and beat is not None and run.status == "crashed":
        # nothing was heard of it since: its open attempts end there, not at the clock
        now = min(now, beat.timestamp())
    return timeline(
        ui.store,
        read_tasks(ui.store, run.record, ended=end is not None),
        run.record.created_at,
        None if end is None else end.finished_at,
        now,
    )


routes: list[BaseRoute] = [
    Route("/api/runs/{flow}/{run_id}", handler(run_detail), methods=["GET"]),
    Route("/api/timeline/{flow}/{run_id}", handler(run_timeline), methods=["GET"]),
]
