"""The runs list, the flows, the dead letters and the one write (a run's user tags):
``GET /api/flows``, ``GET /api/runs``, ``GET /api/deadletters``, ``POST /api/tags/F/RUN``."""

from __future__ import annotations

import calendar
import json
import math
import time
from collections import Counter
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from flowkit.client.tags import check_tags
from flowkit.store.deadletters import list_letters
from flowkit.store.tags import system_tags
from flowkit.ui.common import (
    ApiError,
    answer,
    context,
    error_answer,
    handler,
    open_run,
    query_int,
    run_summary,
)
from flowkit.ui.letters import dead_letter_row
from flowkit.ui.run_list import RunEntry, RunList, run_list

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
_DATE_FORMATS = ("%Y-%m-%d", "%Y-%m-%dT%H:%M")


def flows(request: Request) -> dict[str, Any]:
    runs = run_list(context(request).store)
    now = time.time()
    by_flow: dict[str, list[RunEntry]] = {}
    for entry in runs.refresh():
        by_flow.setdefault(entry.record.flow, []).append(entry)
    return {
        "store": context(request).store.url,
        "flows": [
            {"name": name, "runs": len(entries), "latest": runs.summary(entries[0], now)}
            for name, entries in sorted(by_flow.items())
        ],
    }


def runs(request: Request) -> dict[str, Any]:
    listing = run_list(context(request).store)
    query = request.query_params
    wanted_flows = set(query.getlist("flow"))
    wanted_statuses = set(query.getlist("status"))
    wanted_tags = set(query.getlist("tag"))
    since = _time(query.get("since"), "since", end_of_day=False)
    until = _time(query.get("until"), "until", end_of_day=True)
    limit = query_int(request, "limit", DEFAULT_LIMIT, low=1, high=MAX_LIMIT)
    after = _cursor(query.get("cursor"))
    now = time.time()
    everything = listing.refresh()
    matching = [
        e
        for e in everything
        if (not wanted_flows or e.record.flow in wanted_flows)
        and (since is None or e.record.created_at >= since)
        and (until is None or e.record.created_at < until)
        and (not wanted_tags or wanted_tags <= _all_tags(listing, e, now))
    ]
    statuses = Counter(listing.status(e, now) for e in matching)
    shown = [
        e for e in matching if not wanted_statuses or listing.status(e, now) in wanted_statuses
    ]
    if after is not None:
        shown = [e for e in shown if e.order < after]
    page = shown[:limit]
    more = len(shown) > limit
    return {
        "runs": [listing.summary(e, now) for e in page],
        "next": _make_cursor(page[-1]) if more else None,
        "total": len(matching),
        "flows": sorted({e.record.flow for e in everything}),
        "statuses": dict(sorted(statuses.items())),
    }


def _all_tags(listing: RunList, entry: RunEntry, now: float) -> set[str]:
    return {*listing.tags(entry, now), *system_tags(entry.record)}


def _time(raw: str | None, name: str, *, end_of_day: bool) -> float | None:
    """``raw`` as epoch seconds: a number, or a UTC date (``until`` a date alone: the end of
    that day) or date and time."""
    if raw is None or raw == "":
        return None
    try:
        seconds = float(raw)
    except ValueError:
        pass
    else:
        if math.isfinite(seconds):
            return seconds
    for form in _DATE_FORMATS:
        try:
            parsed = time.strptime(raw, form)
        except ValueError:
            continue
        seconds = float(calendar.timegm(parsed))
        return seconds + 86400.0 if end_of_day and form == "%Y-%m-%d" else seconds
    raise ApiError(
        400,
        f"query parameter {name}={raw!r} is not a time",
        "give seconds since the epoch, or a UTC date as YYYY-MM-DD or YYYY-MM-DDTHH:MM",
    )


def _make_cursor(entry: RunEntry) -> str:
    return json.dumps(list(entry.order), separators=(",", ":"))


def _cursor(raw: str | None) -> tuple[float, str] | None:
    if raw is None or raw == "":
        return None
    try:
        when, run_id = json.loads(raw)
        return float(when), str(run_id)
    except (ValueError, TypeError, RecursionError):  # RecursionError: '[[[[...' nested deep
        raise ApiError(
            400,
            f"query parameter cursor={raw!r} is not a cursor",
            "give the 'next' of the page before",
        ) from None


def deadletters(request: Request) -> dict[str, Any]:
    store = context(request).store
    letters = sorted(list_letters(store), key=lambda x: (x.created_at, x.id), reverse=True)
    return {"letters": [dead_letter_row(store, letter) for letter in letters]}


async def tags(request: Request) -> Response:
    """Change a run's user tags (the body: ``{"add": [...], "remove": [...]}``)."""
    try:
        if not context(request).writable:
            raise ApiError(
                403,
                "this UI is read-only: run tags cannot be changed here",
                "start it with: flowkit ui --allow-writes (or use: flowkit tag)",
            )
        kind = request.headers.get("content-type", "").partition(";")[0].strip().lower()
        if kind != "application/json":
            # a form or text/plain POST is one any web page can make without asking (CSRF);
            # application/json from another origin needs a preflight this server never grants
            raise ApiError(415, "the body must be sent as application/json", _BODY_HINT)
        try:
            body = await request.json()
        except (ValueError, RecursionError):
            raise ApiError(400, "the body is not JSON", _BODY_HINT) from None
        summary = await run_in_threadpool(_change_tags, request, body)
    except Exception as exc:  # error_answer re-raises what it does not know
        return error_answer(exc)
    return answer(summary)


_BODY_HINT = 'send {"add": ["tag", ...], "remove": ["tag", ...]}'


def _change_tags(request: Request, body: Any) -> dict[str, Any]:
    ui = context(request)
    flow, run_id = request.path_params["flow"], request.path_params["run_id"]
    if not isinstance(body, dict) or not set(body) <= {"add", "remove"}:
        raise ApiError(400, "the body must be an object with 'add' and 'remove' lists", _BODY_HINT)
    add = check_tags(body.get("add", []), "add")
    remove = check_tags(body.get("remove", []), "remove", removing=True)
    run = open_run(ui, flow, run_id)
    run.replace_tags(remove, add)
    run_list(ui.store).forget_tags(flow, run_id)
    return run_summary(run)


routes: list[BaseRoute] = [
    Route("/api/flows", handler(flows), methods=["GET"]),
    Route("/api/runs", handler(runs), methods=["GET"]),
    Route("/api/deadletters", handler(deadletters), methods=["GET"]),
    Route("/api/tags/{flow}/{run_id}", tags, methods=["POST"]),
]
