"""Crashing tasks end as failed tasks with their exit status; the rest of the run goes on."""

from __future__ import annotations

from pathlib import Path

import pytest

import flowkit
from flowkit.store import open_store
from tests.flows.crashes import CrashFlow
from tests.runtime.test_shapes import Quiet


def test_crashes_are_recorded_and_other_splits_finish(tmp_path: Path) -> None:
    with pytest.raises(flowkit.RunFailed) as info:
        flowkit.run(CrashFlow, store=str(tmp_path), progress=Quiet(), max_workers=2)
    run = info.value.run
    assert run.finished and not run.successful
    by_mode = {}
    for task in run["work"]:
        mode = CrashFlow.modes.default.split(",")[task.index]  # type: ignore[attr-defined]
        by_mode.setdefault(mode, []).append(task)
    store = open_store(str(tmp_path))
    records = {
        mode: [store.records.get_task("CrashFlow", run.id, "work", t.id) for t in tasks]
        for mode, tasks in by_mode.items()
    }
    assert [r.status for r in records["ok"]] == ["succeeded", "succeeded"]
    assert [t.data.result for t in by_mode["ok"]] == ["ok-0", "ok-5"]
    crash = {m: records[m][0] for m in ("exit", "segv", "kill", "raise")}
    assert {m: r.status for m, r in crash.items()} == dict.fromkeys(crash, "failed")
    assert crash["exit"].exit_code == 3
    assert crash["segv"].exit_code == -11
    assert crash["kill"].exit_code == -9
    assert crash["raise"].exit_code == 1
    assert crash["exit"].exception.type == "TaskCrashed"
    assert "exit code 3" in crash["exit"].exception.message
    assert "SIGSEGV" in crash["segv"].exception.message
    assert "SIGKILL" in crash["kill"].exception.message
    assert crash["raise"].exception.type == "ValueError"
    assert "split 4 was told to fail" in crash["raise"].exception.message
    assert 'tests/flows/crashes.py", line 30, in work' in crash["raise"].exception.traceback
    assert "flowkit/task" not in crash["raise"].exception.traceback
    assert [s.id for s in run.graph_steps()] == ["start", "work"]  # the join never ran


def test_run_failed_carries_the_user_traceback(tmp_path: Path) -> None:
    with pytest.raises(flowkit.RunFailed) as info:
        flowkit.run(CrashFlow, store=str(tmp_path), progress=Quiet(), modes="ok,raise")
    text = info.value.render()
    assert "raised ValueError: split 1 was told to fail" in text
    assert 'crashes.py", line 30, in work' in text
    assert "resume --origin-run-id " + info.value.run.id in info.value.hint
    assert info.value.task is not None and "/work/" in info.value.task


def test_fail_fast_stops_launching(tmp_path: Path) -> None:
    with pytest.raises(flowkit.RunFailed) as info:
        flowkit.run(
            CrashFlow,
            store=str(tmp_path),
            progress=Quiet(),
            max_workers=1,
            fail_fast=True,
            modes="raise,ok,ok,ok",
        )
    tasks = list(info.value.run["work"])
    assert len(tasks) == 1 and not tasks[0].successful


def test_max_num_splits_is_checked_before_the_fan_out(tmp_path: Path) -> None:
    with pytest.raises(flowkit.RunFailed) as info:
        flowkit.run(CrashFlow, store=str(tmp_path), progress=Quiet(), max_num_splits=3)
    assert "has more than 3 items, the --max-num-splits limit" in info.value.render()
    assert [s.id for s in info.value.run] == ["start"]


def test_bad_parameters_and_lint_errors_stop_before_a_run_exists(tmp_path: Path) -> None:
    with pytest.raises(flowkit.ParameterError, match="CrashFlow has no parameter 'mode'"):
        flowkit.run(CrashFlow, store=str(tmp_path), mode="x")
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").rglob("*.json"))
