"""A task's start record is written only once the task has run for a moment: a quick task
leaves its final record alone, a slow one shows as running, and one that dies before either
gets both from the scheduler, with its position and parents."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

import flowkit
from flowkit.store import LocalBackend, Store, open_store
from flowkit.task.started import START_RECORD_DELAY, StartRecord
from tests.flows.crashes import CrashFlow
from tests.runtime.test_shapes import Quiet


def _records(root: Path, suffix: str) -> list[Path]:
    return sorted(p for p in (root / "runs").rglob(f"*{suffix}") if p.is_file())


def test_quick_tasks_write_only_their_final_record(tmp_path: Path) -> None:
    run = flowkit.run(CrashFlow, store=str(tmp_path), progress=Quiet(), modes="ok,ok,ok")
    assert run.successful
    assert _records(tmp_path, ".start.json") == []
    finals = _records(tmp_path, ".0.json")
    assert len(finals) == 6  # start, three branches, join, end
    tasks = list(run["work"])
    assert sorted(t.index for t in tasks) == [0, 1, 2]  # positions kept in the final record


def test_a_task_that_runs_a_while_shows_as_running(tmp_path: Path) -> None:
    seen: list[str] = []
    errors: list[Exception] = []

    def watch() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not seen:
            try:
                store = open_store(str(tmp_path))
                for run_id in (
                    store.records.list_runs("CrashFlow") if (tmp_path / "runs").exists() else []
                ):
                    for task in store.records.list_tasks("CrashFlow", run_id, "work"):
                        seen.append(task.status)
            except Exception as exc:  # a store caught between two writes: look again
                errors.append(exc)
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    with pytest.raises(flowkit.RunFailed):  # 'sleep' waits 60 s; the timeout below ends it
        flowkit.run(
            CrashFlow,
            store=str(tmp_path),
            progress=Quiet(),
            modes="sleep",
            with_decorators=["timeout:seconds=3"],
        )
    watcher.join()
    assert seen[:1] == ["running"], errors[-3:]
    assert START_RECORD_DELAY < 3


def test_a_task_that_dies_at_once_gets_its_records_from_the_scheduler(tmp_path: Path) -> None:
    with pytest.raises(flowkit.RunFailed) as info:
        flowkit.run(CrashFlow, store=str(tmp_path), progress=Quiet(), modes="ok,exit")
    store = Store(LocalBackend(tmp_path))
    run = info.value.run
    (start,) = store.records.list_tasks("CrashFlow", run.id, "start")
    by_index = {r.foreach: r for r in store.records.list_tasks("CrashFlow", run.id, "work")}
    died = by_index[(1,)]
    assert died.status == "failed" and died.exit_code == 3
    assert died.parents == (f"CrashFlow/{run.id}/start/{start.task_id}",)
    assert died.cache_key is not None


class _Recorder:
    """A store whose ``records.write_start`` notes what it was given, taking ``pause`` s."""

    def __init__(self, pause: float = 0.0) -> None:
        self.records = self
        self.written: list[object] = []
        self.pause = pause
        self.entered = threading.Event()

    def write_start(self, record: object) -> None:
        self.entered.set()
        time.sleep(self.pause)
        self.written.append(record)


def test_the_start_record_is_written_after_its_delay_once() -> None:
    store = _Recorder()
    started = StartRecord(store, "rec", delay=0.05)  # type: ignore[arg-type]
    assert store.entered.wait(10)
    started.settle()
    started.settle()  # a second settle changes nothing and does not raise
    time.sleep(0.1)
    assert store.written == ["rec"]


def test_settled_before_its_delay_no_start_record_is_written() -> None:
    store = _Recorder()
    started = StartRecord(store, "rec", delay=0.2)  # type: ignore[arg-type]
    started.settle()
    started.settle()
    time.sleep(0.4)
    assert store.written == []
    assert not store.entered.is_set()


def test_settle_waits_for_a_start_record_being_written() -> None:
    store = _Recorder(pause=0.3)
    started = StartRecord(store, "rec", delay=0.0)  # type: ignore[arg-type]
    assert store.entered.wait(10)
    started.settle()  # the final record must not come before the start record
    assert store.written == ["rec"]
