"""What the task page's endpoints share: the task attempt a request names (``?attempt=N``,
else the latest), and an attempt's log lines (a clone's are its origin's), kept between
requests so a live tail reads only the chunks written since the last poll."""

from __future__ import annotations

import threading
from collections import OrderedDict

from starlette.requests import Request

from flowkit.store import Store
from flowkit.store.errors import StoreError
from flowkit.store.logs import STREAMS, LogLine, LogTail
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
    """Whether no more output will come: the attempt's log is complete (its end mark, which
    comes after its final record and its last output), or its run is over
    (:meth:`~flowkit.store.logs.Logs.ended`, as ``flowkit logs --follow`` decides)."""
    return store.logs.ended(record)


class _Log:
    """One attempt's log as read so far, and the tail that reads what follows."""

    def __init__(self, tail: LogTail) -> None:
        self.tail = tail
        self.lines: Lines = []
        #: The attempt ended and everything was read: nothing more will come.
        self.done = False
        self.lock = threading.Lock()


#: Logs read lately, by (store, attempt), the most recent last: a poll of a tail reads only
#: the chunks written since the last one (one listing), and a finished log is not parsed again.
_LOGS: OrderedDict[tuple[Store, str, int], _Log] = OrderedDict()
_LOGS_LOCK = threading.Lock()
#: Logs kept, and lines kept across them (the least recent log goes first).
LOGS_KEPT, LINES_KEPT = 256, 1_000_000


def log_lines(store: Store, record: TaskRecord, final: bool) -> Lines:
    """Every complete line of both streams so far, each stream in order; with ``final``
    (the attempt ended), each stream's unfinished last line too. A clone's are its origin's."""
    origin = store.records.origin(record)
    key = (store, origin.pathspec, origin.attempt)
    with _LOGS_LOCK:
        log = _LOGS.get(key)
        if log is None:
            log = _LOGS[key] = _Log(store.logs.tail(origin))
        _LOGS.move_to_end(key)
    with log.lock:
        if not log.done:
            try:
                log.lines += log.tail.read()
            except StoreError:  # a damaged chunk: read afresh next time, not past it
                with _LOGS_LOCK:
                    _LOGS.pop(key, None)
                raise
            if final:
                log.lines += log.tail.rest()
                log.done = True
        lines = list(log.lines)
    _forget_old()
    return lines


def _forget_old() -> None:
    with _LOGS_LOCK:
        kept = sum(len(log.lines) for log in _LOGS.values())
        while len(_LOGS) > 1 and (kept > LINES_KEPT or len(_LOGS) > LOGS_KEPT):
            _, log = _LOGS.popitem(last=False)
            kept -= len(log.lines)


def line_counts(lines: Lines) -> dict[str, int]:
    counts = dict.fromkeys(STREAMS, 0)
    for stream, _ in lines:
        counts[stream] += 1
    return counts
