"""A task process's exit status, and the final record of an attempt whose process died
before it could write one itself (a crash, ``os._exit``, a signal, a cancel)."""

from __future__ import annotations

import signal
from typing import TYPE_CHECKING

from flowkit.task.spec import TaskSpec

if TYPE_CHECKING:
    from flowkit.store import Store, TaskRecord

#: Exit statuses of a task process; anything else came from the user's code or a signal.
EXIT_OK, EXIT_FAILED, EXIT_INTERNAL = 0, 1, 70


def describe_status(status: int) -> str:
    """``exit code 3`` or ``killed by SIGKILL``, for messages."""
    if status >= 0:
        return f"exit code {status}"
    try:
        name = signal.Signals(-status).name
    except ValueError:
        name = f"signal {-status}"
    return f"killed by {name}"


def final_record(store: Store, spec: TaskSpec, status: int, *, killed: bool = False) -> TaskRecord:
    """The attempt's final record: the one the task wrote, or one written here for it."""
    from flowkit.store.records import ExceptionInfo

    record = store.get_attempt(spec.flow, spec.run_id, spec.step, spec.task_id, spec.attempt)
    if record is None:  # it died before writing its start record
        record = store.start_task(
            spec.flow, spec.run_id, spec.step, spec.task_id, attempt=spec.attempt
        )
    if record.final:
        return record
    how = describe_status(status)
    if killed:
        info = ExceptionInfo("TaskKilled", f"the task was killed ({how})")
    else:
        info = ExceptionInfo(
            "TaskCrashed",
            f"the task's process ended with {how} before it finished "
            "(a crash, os._exit or a signal)",
        )
    final = record.finished(
        "killed" if killed else "failed",
        exit_code=status,
        exception=info,
        path=tuple(tuple(b.to_json()) for b in spec.path),
    )
    return store.finish_task(final)
