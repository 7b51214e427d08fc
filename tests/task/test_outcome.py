"""The final record of an attempt whose process ended without a word: written for it, unless
the task wrote its own meanwhile (a cancelled cluster job still ending on its node), which
then stands."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowkit.executor.base import KILLED_STATUS
from flowkit.store import TaskRecord, open_store
from flowkit.task.outcome import final_record
from tests.flows.linear import LinearFlow
from tests.runtime.test_worker import _spec_after_start


@pytest.mark.parametrize("seen_before", ["nothing", "its start record"])
def test_a_record_the_task_wrote_meanwhile_stands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seen_before: str
) -> None:
    spec = _spec_after_start(tmp_path, LinearFlow, "a", base=10)
    store = open_store(str(tmp_path))
    records = store.records
    start = records.start_task(
        spec.flow, spec.run_id, spec.step, spec.task_id, **spec.attempt_fields()
    )
    own = records.finish_task(start.finished("succeeded", exit_code=0))
    # the scheduler looked just before the task wrote: its first read is from before
    first: list[TaskRecord | None] = [None if seen_before == "nothing" else start]
    real = records.get_attempt
    monkeypatch.setattr(records, "get_attempt", lambda *key: first.pop() if first else real(*key))
    got = final_record(store, spec, KILLED_STATUS, killed=True)
    assert got == own and got.successful and got.status == "succeeded"
    assert real(spec.flow, spec.run_id, spec.step, spec.task_id, 0) == own


def test_a_task_that_wrote_nothing_gets_the_reason_its_executor_gave(tmp_path: Path) -> None:
    spec = _spec_after_start(tmp_path, LinearFlow, "a", base=10)
    store = open_store(str(tmp_path))
    why = "Slurm job 12 ended before the task started: python: not found"
    record = final_record(store, spec, 127, reason=why)
    assert record.status == "failed" and record.failure == "crashed"
    assert record.exception is not None and record.exception.message == why
    assert record.exit_code == 127


def test_a_signal_its_executor_explains_is_a_crash_not_a_lost_task(tmp_path: Path) -> None:
    # a job Slurm ended at its time limit, or someone scancelled: running it again as a
    # lost task (retried even without @retry) would only end the same way
    spec = _spec_after_start(tmp_path, LinearFlow, "a", base=10)
    store = open_store(str(tmp_path))
    why = "Slurm job 12 ended without the task's final record (TIMEOUT): its time limit"
    record = final_record(store, spec, -9, reason=why)
    assert record.failure == "crashed" and record.exception is not None
    assert record.exception.message == why
    unexplained = _spec_after_start(tmp_path / "again", LinearFlow, "a", base=10)
    lost = final_record(open_store(str(tmp_path / "again")), unexplained, -9)
    assert lost.failure == "lost"
