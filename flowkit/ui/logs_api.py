"""A task attempt's stdout and stderr: ``GET .../logs`` (time-ordered lines, a cursor for
the next poll's newer lines, a case-blind search) and ``GET .../logs.txt`` (a download with
an ISO UTC time and the stream on each line). A clone's logs are its origin's."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import BaseRoute, Route

from flowkit.store.logs import STREAMS
from flowkit.ui.attempts import Lines, ended, log_lines, one_attempt
from flowkit.ui.common import ApiError, context, handler

TASK = "/api/runs/{flow}/{run_id}/{step}/{task_id}"


def _streams(request: Request) -> tuple[str, ...]:
    stream = request.query_params.get("stream") or "both"
    if stream == "both":
        return STREAMS
    if stream not in STREAMS:
        raise ApiError(
            400, f"query parameter stream={stream!r} is not a stream", "give stdout, stderr or both"
        )
    return (stream,)


def parse_cursor(raw: str | None) -> dict[str, int]:
    """Lines of each stream an earlier answer already gave (its ``cursor``: ``OUT.ERR``)."""
    if not raw:
        return dict.fromkeys(STREAMS, 0)
    parts = raw.split(".")
    # isdigit alone lets '²' through, which int() refuses
    if len(parts) != len(STREAMS) or not all(p.isascii() and p.isdigit() for p in parts):
        raise ApiError(
            400,
            f"query parameter after={raw!r} is not a log cursor",
            "give the cursor of the answer before, or leave it out for every line",
        )
    return dict(zip(STREAMS, map(int, parts), strict=True))


def _cursor(counts: dict[str, int]) -> str:
    return ".".join(str(counts[s]) for s in STREAMS)


def _newer(lines: Lines, seen: dict[str, int]) -> tuple[Lines, dict[str, int]]:
    """The lines past the cursor, and the cursor past them; lines stay in time order."""
    counts = dict.fromkeys(STREAMS, 0)
    newer = []
    for stream, line in lines:
        counts[stream] += 1
        if counts[stream] > seen[stream]:
            newer.append((stream, line))
    return newer, counts


def _in_time_order(lines: Lines, streams: tuple[str, ...]) -> Lines:
    # each stream is in order already; a stable sort interleaves them by time
    return sorted((x for x in lines if x[0] in streams), key=lambda x: x[1].timestamp)


def logs(request: Request) -> dict[str, Any]:
    store = context(request).store
    streams = _streams(request)
    seen = parse_cursor(request.query_params.get("after"))
    needle = (request.query_params.get("q") or "").casefold()
    record = one_attempt(store, request)
    final = ended(store, record)  # before reading, so no line written after it is missed
    newer, counts = _newer(log_lines(store, record, final), seen)
    shown = [
        {"t": line.timestamp, "stream": stream, "text": line.text}
        for stream, line in _in_time_order(newer, streams)
        if needle in line.text.casefold()
    ]
    return {"lines": shown, "cursor": _cursor(counts), "final": final}


def iso_time(seconds: float) -> str:
    """``2026-11-30T01:02:03.250Z``."""
    moment = datetime.fromtimestamp(seconds, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def logs_text(request: Request) -> PlainTextResponse:
    store = context(request).store
    streams = _streams(request)
    record = one_attempt(store, request)
    lines = _in_time_order(log_lines(store, record, ended(store, record)), streams)
    body = "".join(f"{iso_time(line.timestamp)} {stream} {line.text}\n" for stream, line in lines)
    name = f"{record.flow}-{record.run_id}-{record.step}-{record.task_id}-{record.attempt}.log"
    return PlainTextResponse(
        body, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


routes: list[BaseRoute] = [
    Route(f"{TASK}/logs", handler(logs), methods=["GET"]),
    Route(f"{TASK}/logs.txt", handler(logs_text), methods=["GET"]),
]
