"""What every API module of the UI shares: the server's context (its store and whether it
may write), the error answer, URLs shaped like pathspecs, and a run's summary row."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from flowkit.client import Run
from flowkit.client.data import ObjectNotFound
from flowkit.errors import FlowkitError
from flowkit.fastdata import dataclass
from flowkit.store import Store
from flowkit.store.errors import NotFoundError

#: A parameter's value in a summary: its repr, cut here.
PARAMETER_CHARS = 200


@dataclass(frozen=True)
class UiContext:
    """What a request handler needs: the store (its write-once reads cached) and whether
    the server was started with ``--allow-writes``."""

    store: Store
    writable: bool = False


class ApiError(Exception):
    """An answer other than 200: its status, what is wrong, and what to do."""

    def __init__(self, status: int, error: str, hint: str = "") -> None:
        super().__init__(error)
        self.status, self.error, self.hint = status, error, hint


def context(request: Request) -> UiContext:
    ui: UiContext = request.app.state.ui
    return ui


def answer(data: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(data, status_code=status)


def error_answer(exc: Exception) -> JSONResponse:
    """The JSON error answer for ``exc``: 404 for what the store does not hold."""
    if isinstance(exc, ApiError):
        return answer({"error": exc.error, "hint": exc.hint}, exc.status)
    if isinstance(exc, NotFoundError | ObjectNotFound):
        return answer(
            {"error": str(exc.args[0]) if exc.args else str(exc), "hint": _hint(exc)}, 404
        )
    if isinstance(exc, FlowkitError):
        return answer(
            {"error": str(exc.args[0]) if exc.args else str(exc), "hint": _hint(exc)}, 400
        )
    raise exc


def _hint(exc: Exception) -> str:
    hint = getattr(exc, "hint", "")
    return hint if isinstance(hint, str) else ""


def handler(function: Callable[[Request], Any]) -> Callable[[Request], Response]:
    """A sync endpoint (starlette runs it in its thread pool: store reads block) whose
    ApiError or store error becomes the JSON error answer."""

    def endpoint(request: Request) -> Response:
        try:
            result = function(request)
        except Exception as exc:  # error_answer re-raises what it does not know
            return error_answer(exc)
        return result if isinstance(result, Response) else answer(result)

    endpoint.__name__ = function.__name__
    endpoint.__doc__ = function.__doc__
    return endpoint


def page_url(*parts: str) -> str:
    """The page of a pathspec's parts (flow, run, step, task, artifact): ``/F/RUN/...``."""
    return "/" + "/".join(quote(p, safe="") for p in parts)


def api_url(*parts: str) -> str:
    """The API address of a run or what is inside it: ``/api/runs/F/RUN/...``."""
    return "/api/runs" + page_url(*parts)


def open_run(ui: UiContext, flow: str, run_id: str) -> Run:
    """The run ``flow/run_id`` whatever the namespace (the UI shows every run), or a 404 for
    a run not stored: asked of the store each time, since the cache may still hold the
    records of a run gc deleted from another process."""
    if not ui.store.records.has_run(flow, run_id):
        raise NotFoundError(
            f"run {flow}/{run_id} is not in the store at {ui.store.url}",
            f"list the runs with: flowkit runs {flow} --store {ui.store.url}",
        )
    return Run(f"{flow}/{run_id}", store=ui.store, _namespace_check=False)


def query_int(
    request: Request, name: str, default: int, *, low: int = 0, high: int | None = None
) -> int:
    """An integer query parameter, or a 400 naming it."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"query parameter {name}={raw!r} is not a whole number") from None
    if value < low or (high is not None and value > high):
        limit = f"from {low} to {high}" if high is not None else f"at least {low}"
        raise ApiError(400, f"query parameter {name}={value} is out of range ({limit})")
    return value


def short_repr(value: Any, limit: int = PARAMETER_CHARS) -> str:
    try:
        text = repr(value)
    except Exception as exc:  # a broken __repr__ is shown, not raised
        text = f"<unprintable {type(value).__name__}: {exc}>"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def run_summary(run: Run, now: float | None = None) -> dict[str, Any]:
    """A run as every list and header shows it (the RunSummary of docs/ui.md)."""
    now = time.time() if now is None else now
    record = run.record
    status = run.status
    end = run.end_record if status not in ("running", "crashed") else None
    finished_at = end.finished_at if end is not None else None
    if finished_at is not None:
        duration: float | None = finished_at - record.created_at
    elif status == "running":
        duration = max(0.0, now - record.created_at)
    else:
        beat = run.heartbeat_at
        duration = None if beat is None else max(0.0, beat.timestamp() - record.created_at)
    return {
        "flow": run.flow_name,
        "run_id": run.id,
        "pathspec": run.pathspec,
        "url": page_url(run.flow_name, run.id),
        "status": status,
        "created_at": record.created_at,
        "finished_at": finished_at,
        "duration": duration,
        "user": record.user,
        "tags": sorted(run.user_tags),
        "system_tags": sorted(run.system_tags),
        "parameters": {k: short_repr(v) for k, v in sorted(record.parameters.items())},
        "origin_run_id": record.origin_run_id,
    }
