"""A task process's exit status, and the final record of an attempt whose process died
before it could write one itself (a crash, ``os._exit``, a signal, a cancel)."""

from __future__ import annotations

import signal
import time
from typing import TYPE_CHECKING

from flowkit.store.errors import StoreError
from flowkit.task.caught import qualified_name
from flowkit.task.spec import TaskSpec
from flowkit.task.timeout import TaskTimedOut

if TYPE_CHECKING:
    from flowkit.store import Store, TaskRecord
    from flowkit.store.records import ExceptionInfo, FailureKind

#: Exit statuses of a task process; anything else came from the user's code or a signal.
EXIT_OK, EXIT_FAILED, EXIT_INTERNAL = 0, 1, 70


class TaskCrashed(Exception):
    """How a record names an attempt whose process ended without writing its own."""


class TaskLost(Exception):
    """How a record names an attempt that its worker or executor lost."""


class TaskKilled(Exception):
    """How a record names an attempt that a cancel killed."""


def _info(cls: type[Exception], message: str) -> ExceptionInfo:
    """The exception a record written for the task names: ``cls``, named as the step's own
    exceptions are (so ``@catch``'s ``.type`` reads the same, whoever wrote the record)."""
    from flowkit.store.records import ExceptionInfo

    return ExceptionInfo(cls.__name__, message, "", qualified_name(cls))


#: Signals a process gets for its own fault (a bad pointer, ``abort()``): the task crashed,
#: it was not lost, so only ``@retry`` runs it again.
SELF_INFLICTED = frozenset(
    {signal.SIGSEGV, signal.SIGBUS, signal.SIGILL, signal.SIGFPE, signal.SIGABRT}
)


def describe_status(status: int) -> str:
    """``exit code 3``, ``killed by signal SIGKILL`` or ``segmentation fault (killed by
    signal SIGSEGV)``, for messages and the task's log."""
    if status >= 0:
        return f"exit code {status}"
    try:
        name = signal.Signals(-status).name
    except ValueError:
        name = str(-status)
    killed = f"killed by signal {name}"
    return f"segmentation fault ({killed})" if -status == signal.SIGSEGV else killed


def final_record(
    store: Store,
    spec: TaskSpec,
    status: int,
    *,
    killed: bool = False,
    timeout: float | None = None,
    worker_lost: bool = False,
    reason: str | None = None,
) -> TaskRecord:
    """The attempt's final record: the one the task wrote, or one written here for it.

    ``killed``: the run was cancelled; ``timeout``: the attempt ran past its ``@timeout`` of
    that many seconds and its process group was killed; ``worker_lost``: the warm worker
    that ran it died (or its executor lost it: a cluster node failed). An attempt that died
    on a signal without a word is *lost* (retried even without ``@retry``); one that exited
    on its own without a record *crashed*. ``reason``, the executor's word on why (a job
    that died before the worker started), replaces the generic message of a lost or
    crashed attempt; an explained signal makes the attempt crashed, not lost.
    """
    from flowkit.store import RecordExistsError

    record = store.records.get_attempt(
        spec.flow, spec.run_id, spec.step, spec.task_id, spec.attempt
    )
    if record is None:  # it died before its start record was written
        try:
            record = store.records.start_task(
                spec.flow, spec.run_id, spec.step, spec.task_id, **spec.attempt_fields()
            )
        except RecordExistsError:  # it wrote it meanwhile: a job still ending on its node
            record = _written(store, spec, final=False)
    if record.final:
        return record
    how = describe_status(status)
    failure: FailureKind | None = None
    if killed:
        info = _info(TaskKilled, f"the task was killed ({how})")
    elif timeout is not None:
        failure = "timeout"
        info = _info(
            TaskTimedOut,
            f"the task ran longer than its @timeout of {timeout:g}s; its process group was killed",
        )
    elif worker_lost:
        failure = "lost"
        info = _info(TaskLost, reason or "the warm worker running the task died; it was lost")
    else:
        # a signal nobody explained is a lost task (retried regardless); one the executor
        # explains (a time limit, out of memory, a cancel outside flowkit), or the process's
        # own fault (a segfault, abort()), is the task's own
        lost = status < 0 and -status not in SELF_INFLICTED
        failure = "lost" if lost and reason is None else "crashed"
        info = _info(
            TaskCrashed,
            reason
            or f"the task's process ended before it finished: {how} "
            "(a crash, os._exit or a signal)",
        )
    final = record.finished(
        "killed" if killed else "failed",
        exit_code=status,
        exception=info,
        failure=failure,
        path=tuple(tuple(b.to_json()) for b in spec.path),
    )
    try:
        return store.records.finish_task(final)
    except RecordExistsError:  # the task wrote its own meanwhile: that one is the word
        return _written(store, spec, final=True)


#: How long a record that a write found existing may take to be readable (a shared file
#: system's caches may answer from before it was written).
_VISIBLE_WITHIN = 5.0


def _written(store: Store, spec: TaskSpec, *, final: bool) -> TaskRecord:
    """The attempt's record (its ``final`` one) that another writer, the task itself, just
    wrote."""
    deadline = time.monotonic() + _VISIBLE_WITHIN
    while True:
        record = store.records.get_attempt(
            spec.flow, spec.run_id, spec.step, spec.task_id, spec.attempt
        )
        if (record is not None and (record.final or not final)) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    if record is None or (final and not record.final):
        raise StoreError(
            f"task {spec.flow}/{spec.run_id}/{spec.step}/{spec.task_id} attempt "
            f"{spec.attempt}: its record exists in {store.url} but cannot be read",
            "the store's file system serves stale reads; check its mount's caching "
            "(NFS: lookupcache=positive or noac) and resume the run",
        )
    return record
