"""What the task page's endpoints share: the task attempt a request names (``?attempt=N``,
else the latest), and an attempt's log lines (a clone's are its origin's)."""

from __future__ import annotations

from starlette.requests import Request

from flowkit.store import Store
from flowkit.store.logs import STREAMS, LogLine
from flowkit.store.records import TaskRecord
from flowkit.ui.common import ApiError, query_int

#: ``(stream, line)`` in the order the task wrote them.
Lines = list[tuple[str, LogLine]]


def task_parts(request: Request) -> tuple[str, str, str, str]:
    p = request.path_params
    return p["flow"], p["run_id"], p["step"], p["task_id"]


def asked_attempt(request: Request) -> int | None:
    """``?attempt=N``; None when the request asks for the latest."""
    attempt = query_int(request, "attempt", -1)
    return None if attempt < 0 else attempt


def all_attempts(store: Store, request: Request) -> tuple[list[TaskRecord], TaskRecord]:
    """Every attempt of the task the path names, oldest first, and the one asked for."""
    flow, run_id, step, task_id = task_parts(request)
    attempts = store.records.task_attempts(flow, run_id, step, task_id)
    asked = asked_attempt(request)
    if asked is None:
        return attempts, attempts[-1]
    for record in attempts:
        if record.attempt == asked:
            return attempts, record
    raise _no_attempt(attempts[-1], asked, [r.attempt for r in attempts])


def one_attempt(store: Store, request: Request) -> TaskRecord:
    """The attempt asked for, read by its keys when ``?attempt=N`` names it (no listing of
    the step, which a 10,000-task step makes long: what a log tail polls)."""
    asked = asked_attempt(request)
    if asked is None:
        return all_attempts(store, request)[1]
    record = store.records.get_attempt(*task_parts(request), asked)
    if record is None:
        return all_attempts(store, request)[1]  # the error names the attempts there are
    return record


def _no_attempt(record: TaskRecord, asked: int, known: list[int]) -> ApiError:
    return ApiError(
        404,
        f"task {record.pathspec} has no attempt {asked}",
        f"its attempts are: {', '.join(map(str, known))}",
    )


def ended(store: Store, record: TaskRecord) -> bool:
    """Whether no more output will come: the attempt has its final record, or its run ended
    or crashed without one (as ``flowkit logs --follow`` decides)."""
    if record.final:
        return True
    latest = store.records.get_attempt(
        record.flow, record.run_id, record.step, record.task_id, record.attempt
    )
    if latest is not None and latest.final:
        return True
    run = store.records.get_run(record.flow, record.run_id)
    return store.leases.run_state(run) != "running"


def log_lines(store: Store, record: TaskRecord, final: bool) -> Lines:
    """Every complete line of both streams so far, each stream in order (a tail reads every
    chunk, which the UI's cached store holds once read: chunks are write-once); with
    ``final``, each stream's unfinished last line too."""
    tail = store.logs.tail(store.records.origin(record))
    lines = tail.read()
    if final:
        lines += tail.rest()
    return lines


def line_counts(lines: Lines) -> dict[str, int]:
    counts = dict.fromkeys(STREAMS, 0)
    for stream, _ in lines:
        counts[stream] += 1
    return counts
