"""A task whose process ended without its final record: the executor's reason (a job that
died before its worker started, a node that failed) becomes the task's recorded error.

The executor is the third-party package's (conftest.py), found through its entry point like
any plug-in: ``crash=N`` / ``lose=N`` end the first N attempts of each task as ``Failed``
(status 127) / ``Lost`` with a reason, without running them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import flowkit
from flowkit.store import open_store
from flowkit.store.records import TaskRecord
from tests.executor.conftest import CRASH_REASON, LOST_REASON, submitted
from tests.flows.linear import LinearFlow
from tests.metaflow_compat.flows.catch_flows import AllCaughtFlow
from tests.runtime.test_shapes import Quiet


def _attempts(store: Path, run_id: str, step: str) -> list[TaskRecord]:
    records = open_store(str(store)).records
    (task,) = records.list_tasks("LinearFlow", run_id, step)
    found = []
    for attempt in range(task.attempt + 2):
        record = records.get_attempt("LinearFlow", run_id, step, task.task_id, attempt)
        if record is not None:
            found.append(record)
    return found


def test_a_failed_jobs_reason_is_the_tasks_error(third_party: Path, tmp_path: Path) -> None:
    with pytest.raises(flowkit.RunFailed) as info:
        flowkit.run(
            LinearFlow,
            store=str(tmp_path),
            progress=Quiet(),
            with_decorators=["thirdparty:crash=1"],
        )
    assert CRASH_REASON in info.value.render()
    (record,) = _attempts(tmp_path, info.value.run.id, "start")  # a crash is not retried
    assert (record.status, record.failure, record.exit_code) == ("failed", "crashed", 127)
    assert record.exception is not None
    assert (record.exception.type, record.exception.message) == ("TaskCrashed", CRASH_REASON)
    assert [s for s, _ in submitted(third_party)] == ["start"]


def test_a_lost_jobs_reason_is_recorded_and_the_task_is_retried_once(
    third_party: Path, tmp_path: Path
) -> None:
    run = flowkit.run(
        LinearFlow, store=str(tmp_path), progress=Quiet(), with_decorators=["thirdparty:lose=1"]
    )
    assert run.successful and run.data.total == 6
    for step in ("start", "a", "b", "end"):
        lost, done = _attempts(tmp_path, run.id, step)
        assert (lost.attempt, lost.status, lost.failure) == (0, "failed", "lost")
        assert lost.exception is not None
        assert (lost.exception.type, lost.exception.message) == ("TaskLost", LOST_REASON)
        assert (done.attempt, done.status) == (1, "succeeded")


def test_a_task_lost_twice_fails_without_retry(third_party: Path, tmp_path: Path) -> None:
    with pytest.raises(flowkit.RunFailed) as info:
        flowkit.run(
            LinearFlow, store=str(tmp_path), progress=Quiet(), with_decorators=["thirdparty:lose=2"]
        )
    assert LOST_REASON in info.value.render()
    attempts = _attempts(tmp_path, info.value.run.id, "start")
    assert [(r.attempt, r.failure) for r in attempts] == [(0, "lost"), (1, "lost")]
    assert all(r.exception and r.exception.message == LOST_REASON for r in attempts)
    assert [s for s, _ in submitted(third_party)] == ["start", "start"]


def test_a_lost_caught_attempt_is_run_again(third_party: Path, tmp_path: Path) -> None:
    """``lose=3``: both attempts of each step are lost, then the attempt ``@catch`` adds is
    lost too; it runs again, as any lost attempt, and stores the failure."""
    run = flowkit.run(
        AllCaughtFlow, store=str(tmp_path), progress=Quiet(), with_decorators=["thirdparty:lose=3"]
    )
    assert run.successful
    records = open_store(str(tmp_path)).records
    start = run["start"].task
    attempts = [
        records.get_attempt("AllCaughtFlow", run.id, "start", start.id, n) for n in range(4)
    ]
    assert [(r.status, r.failure) for r in attempts if r is not None] == [
        ("failed", "lost"),
        ("failed", "lost"),
        ("failed", "lost"),
        ("caught", "lost"),
    ]
    assert start.data.start_failed.type == "flowkit.task.outcome.TaskLost"
    assert start.data.start_failed.message == LOST_REASON
