"""The warm worker configures the run's class once (mutators, config expressions) and
every task it forks runs that class: a flow's mutators do not run again in each task."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import flowkit
from flowkit.store import open_store
from tests.flows.configured_once import ConfiguredOnceFlow
from tests.runtime.test_shapes import Quiet


def _pids(log: Path) -> list[int]:
    return [int(line) for line in log.read_text().split()]


def test_the_mutator_runs_once_in_the_worker_not_in_each_task(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "mutated"
    monkeypatch.setenv("CONFIGURED_ONCE_LOG", str(log))
    run = flowkit.run(
        ConfiguredOnceFlow,
        store=str(tmp_path / "store"),
        progress=Quiet(),
        cfg={"factor": 5, "n": 20},
    )
    assert run.successful
    elsewhere = [pid for pid in _pids(log) if pid != os.getpid()]
    assert len(elsewhere) == 1  # the warm worker's, for all 23 tasks
    # the worker's class has the run's configs, not the defaults (factor 3)
    assert sorted(t.data.scaled for t in run["work"]) == [i * 5 for i in range(20)]
    assert run["join"].task.data.scaled == [i * 5 for i in range(20)]


def test_a_class_the_worker_cannot_configure_fails_each_task_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "mutated"
    monkeypatch.setenv("CONFIGURED_ONCE_LOG", str(log))
    monkeypatch.setenv("CONFIGURED_ONCE_FAIL_BUT", str(os.getpid()))
    with pytest.raises(flowkit.RunFailed) as info:
        flowkit.run(ConfiguredOnceFlow, store=str(tmp_path / "store"), progress=Quiet())
    run = info.value.run
    record = open_store(str(tmp_path / "store")).records.get_task(
        "ConfiguredOnceFlow", run.id, "start", run["start"].task.id
    )
    assert record.status == "failed"
    assert record.exception.type == "RuntimeError"
    assert record.exception.message == "the mutator refused to run here"
    assert 'configured_once.py", line 16, in pre_mutate' in record.exception.traceback
    # tried once in the worker, then by the start task itself, which recorded why
    assert len([pid for pid in _pids(log) if pid != os.getpid()]) == 2


def test_a_remote_worker_configures_once_in_its_process(
    third_party: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``python -m flowkit.worker`` runs one task a process: it configures the class there,
    once, with the run's configs."""
    log = tmp_path / "mutated"
    monkeypatch.setenv("CONFIGURED_ONCE_LOG", str(log))
    run = flowkit.run(
        ConfiguredOnceFlow,
        store=str(tmp_path / "store"),
        progress=Quiet(),
        with_decorators=["thirdparty"],
        cfg={"factor": 7, "n": 2},
    )
    elsewhere = [pid for pid in _pids(log) if pid != os.getpid()]
    assert len(elsewhere) == len(set(elsewhere)) == 5  # start, 2 splits, join, end
    assert sorted(t.data.scaled for t in run["work"]) == [0, 7]
