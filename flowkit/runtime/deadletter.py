"""Dead letters and alerts at the runtime's edges: record a task that failed for good, say
how a run ended, and retry a dead-lettered task (then resume its run from it)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from flowkit.runtime.alerts import AlertEvent, Alerts
from flowkit.store.deadletters import read_letter, record_retry, write_letter

if TYPE_CHECKING:
    from flowkit.client import Run
    from flowkit.store import RunRecord, Store, TaskRecord
    from flowkit.task.spec import TaskSpec


def dead_letter(store: Store, record: TaskRecord, spec: TaskSpec, alerts: Alerts | None) -> str:
    """Write the dead letter for ``record`` (its task's final failed attempt), alert; its id."""
    letter_id = write_letter(store, record, spec.to_json(), spec.inputs)
    if alerts:
        info = record.exception
        alerts.emit(
            AlertEvent(
                "task_dead_lettered",
                record.flow,
                record.run_id,
                store.url,
                time.time(),
                step=record.step,
                task_id=record.task_id,
                pathspec=record.pathspec,
                error=str(info) if info else None,
                traceback=info.traceback if info else None,
                dead_letter=letter_id,
            )
        )
    return letter_id


def run_alert(
    store: Store, run: RunRecord, status: str, failed: TaskRecord | None, message: str | None
) -> AlertEvent:
    """The alert for a run that ended (``cancelled`` reads as failed)."""
    info = failed.exception if failed else None
    return AlertEvent(
        "run_succeeded" if status == "succeeded" else "run_failed",
        run.flow,
        run.run_id,
        store.url,
        time.time(),
        step=failed.step if failed else None,
        task_id=failed.task_id if failed else None,
        pathspec=failed.pathspec if failed else None,
        error=str(info) if info else message,
        traceback=info.traceback if info else None,
        message=message if status != "succeeded" else None,
    )


def retry_dead_letter(store: Store, letter_id: str, **options: Any) -> Run:
    """Run the letter's task again (with the flow's code as it is now) against its recorded
    inputs, and resume its run from it: every task of the run that succeeded is cloned, the
    failed ones (this one included) run again, then what follows them. Records the retry
    next to the letter either way; raises :class:`~flowkit.runtime.api.RunFailed` if the
    retry fails again."""
    from flowkit.runtime.api import RunFailed, resume
    from flowkit.task.code import load_flow_class
    from flowkit.task.spec import TaskSpec

    letter = read_letter(store, letter_id)
    spec = TaskSpec.from_json(letter.spec)
    flow_cls = load_flow_class(spec.code, store)
    try:
        run: Run = resume(flow_cls, origin_run_id=letter.run_id, store=store, **options)
    except RunFailed as failed:
        record_retry(store, letter_id, failed.run.id, "failed")
        raise
    record_retry(store, letter_id, run.id, "succeeded")
    return run
