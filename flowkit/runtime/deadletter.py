"""Dead letters and alerts at the runtime's edges: record a task that failed for good, say
how a run ended, and retry a dead-lettered task (then resume its run from it)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from flowkit.errors import FlowkitError
from flowkit.runtime.alerts import AlertEvent, Alerts, AlertSender
from flowkit.store.deadletters import read_letter, record_retry, write_letter

if TYPE_CHECKING:
    from flowkit.client import Run
    from flowkit.runtime.events import ProgressSink
    from flowkit.store import RunRecord, Store, TaskRecord
    from flowkit.task.spec import TaskSpec


def dead_letter(
    store: Store, record: TaskRecord, spec: TaskSpec, alerts: Alerts | AlertSender | None
) -> str:
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


class RetryFailed(FlowkitError):
    """A dead-lettered task, run again alone, failed again; its run was not resumed."""


def retry_dead_letter(
    store: Store, letter_id: str, progress: Callable[[], ProgressSink], *, quiet: bool = False
) -> Run:
    """Run the letter's task again, alone (with the flow's code as it is now), against its
    recorded inputs, as a new attempt in its run; if that succeeds, resume the run from it:
    every task that succeeded is cloned, this one included, and what failed or follows runs.
    Records each retry next to the letter; raises :class:`RetryFailed` if the task fails
    again, or :class:`~flowkit.runtime.drive.RunFailed` if the resumed run does. The resumed run
    reports to the view ``progress`` makes."""
    from flowkit.runtime.api import RunFailed, RunOptions, start
    from flowkit.task.code import load_flow_class
    from flowkit.task.spec import TaskSpec

    letter = read_letter(store, letter_id)
    spec = TaskSpec.from_json(letter.spec)
    flow_cls = load_flow_class(spec.code, store)
    alone = _run_alone(store, spec, quiet=quiet)
    if not alone.successful:
        name = f"{alone.run_id}-attempt{alone.attempt}"
        record_retry(store, letter_id, alone.run_id, "failed", name=name)
        raise RetryFailed(
            f"task {alone.pathspec} failed again (attempt {alone.attempt}): {alone.exception}",
            "fix the cause, then: flowkit dlq retry " + letter_id,
        )
    try:
        options = RunOptions(progress, store, quiet=quiet)
        run = start(flow_cls, {}, options, resume_from=letter.run_id)
    except RunFailed as failed:
        record_retry(store, letter_id, failed.run.id, "failed")
        raise
    record_retry(store, letter_id, run.id, "succeeded")
    return run


def _run_alone(store: Store, spec: TaskSpec, *, quiet: bool) -> TaskRecord:
    """The letter's task as a new attempt in its own run, through ``python -m flowkit.worker``
    (the code path every executor uses); its final record."""
    import subprocess
    import sys

    from flowkit.fastdata import replace
    from flowkit.task.outcome import final_record

    attempts = store.records.task_attempts(spec.flow, spec.run_id, spec.step, spec.task_id)
    again = replace(spec, attempt=max(a.attempt for a in attempts) + 1, store=store.url)
    done = subprocess.run(
        [sys.executable, "-m", "flowkit.worker", again.to_json()],
        capture_output=quiet,
        check=False,
    )
    return final_record(store, again, done.returncode)
