"""Write a finished run through the real store API, the way the runtime will (for tests)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from flowkit.fastdata import dataclass, field
from flowkit.store.records import ExceptionInfo, RunRecord, RunStatus, TaskRecord, TaskStatus
from flowkit.store.store import Store


@dataclass
class FakeTask:
    """One task to write: its artifacts, output, and how it ended."""

    artifacts: Mapping[str, Any] = field(default_factory=dict)
    stdout: str = ""
    stderr: str = ""
    status: TaskStatus = "succeeded"
    exception: ExceptionInfo | None = None
    foreach: tuple[int, ...] = ()
    #: Attempts that failed before this one (each gets a start and a failed final record).
    failed_attempts: int = 0
    #: How long its last attempt took, as its records say (None: as long as writing it did).
    seconds: float | None = None


def write_task(
    store: Store, run: RunRecord, step: str, spec: FakeTask, parents: Sequence[str] = ()
) -> TaskRecord:
    """Write every attempt of one task (start record, logs, values, final record)."""
    task_id = store.records.new_task_id()
    record: TaskRecord | None = None
    for attempt in range(spec.failed_attempts + 1):
        last = attempt == spec.failed_attempts
        start = store.records.start_task(
            run.flow, run.run_id, step, task_id, attempt=attempt,
            foreach=spec.foreach, parents=parents,
        )  # fmt: skip
        for stream, text in (("stdout", spec.stdout), ("stderr", spec.stderr)):
            if text and last:
                writer = store.logs.writer(start, stream)
                writer.write(text)
                writer.close()
        if last:
            refs = store.values.put_artifacts(spec.artifacts, step=step)
            record = start.finished(
                spec.status, artifacts=refs, exception=spec.exception,
                exit_code=0 if spec.status == "succeeded" else 1,
                finished_at=None if spec.seconds is None else start.started_at + spec.seconds,
            )  # fmt: skip
        else:
            error = ExceptionInfo("RuntimeError", f"attempt {attempt} failed", "Traceback ...")
            record = start.finished("failed", exception=error, exit_code=1)
        record = store.records.finish_task(record)
    assert record is not None
    return record


def write_fake_run(
    store: Store,
    flow: str,
    steps: Mapping[str, Sequence[FakeTask]],
    *,
    parameters: Mapping[str, Any] | None = None,
    tags: Sequence[str] = (),
    finish: RunStatus | None = "succeeded",
) -> RunRecord:
    """A run whose steps (in order) each have the given tasks; each step's tasks name the
    previous step's tasks as parents. ``finish=None`` leaves the run unfinished."""
    run = store.records.create_run(flow, parameters=parameters, tags=tags, steps=list(steps))
    parents: list[str] = []
    for step, tasks in steps.items():
        parents = [write_task(store, run, step, spec, parents).pathspec for spec in tasks]
    if finish is not None:
        store.records.end_run(flow, run.run_id, finish)
    return run
