"""Debugging one step in-process: the real exception surfaces (so %debug works), edited code
runs on the recorded inputs without touching the run, and the fix can become a new run."""

from __future__ import annotations

from pathlib import Path

import pytest

import flowkit
from flowkit.store import open_store
from tests.flows.fanout import FanoutFlow
from tests.runtime.test_shapes import Quiet


def fixed_work(self):
    self.value = self.input * 100
    self.next(self.join)


def test_debug_a_failed_task_then_resume_with_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWKIT_TEST_FAIL_SPLITS", "1")
    with pytest.raises(flowkit.RunFailed) as info:
        flowkit.run(FanoutFlow, store=str(tmp_path), progress=Quiet(), n=3)
    failed = next(t for t in info.value.run["work"] if not t.successful)
    store = open_store(str(tmp_path))
    before = store.records.task_attempts("FanoutFlow", info.value.run.id, "work", failed.id)

    with pytest.raises(RuntimeError, match="split 1 told to fail"):
        flowkit.debug_task(failed, FanoutFlow)  # the user's exception, raised here

    debugged = flowkit.debug_task(failed.pathspec, FanoutFlow, step=fixed_work, store=str(tmp_path))
    assert debugged.data.value == 100 and debugged.data.input == 1
    assert debugged.next_steps == ("join",)
    assert "value" in debugged.artifacts and "items" in debugged.artifacts
    assert store.records.task_attempts("FanoutFlow", info.value.run.id, "work", failed.id) == before

    monkeypatch.delenv("FLOWKIT_TEST_FAIL_SPLITS")
    resumed = debugged.resume(store=str(tmp_path), progress=Quiet())
    assert resumed.origin_run_id == info.value.run.id
    assert resumed["join"].task.data.total == (0 + 1 + 2) * 100
    assert [d["action"] for d in resumed.explanation if d["step"] == "start"] == ["clone"]


def test_debugging_needs_the_flow_class(tmp_path: Path) -> None:
    run = flowkit.run(FanoutFlow, store=str(tmp_path), progress=Quiet(), n=2)
    with pytest.raises(flowkit.FlowkitError, match="no flow class FanoutFlow is defined here"):
        flowkit.debug_task(run["work"].task)
