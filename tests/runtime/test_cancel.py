"""Ctrl-C and SIGTERM cancel a run cleanly: fast, recorded, and with no process left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import flowkit
from flowkit.runtime import scheduler
from flowkit.runtime.events import TaskEvent
from flowkit.store import TaskRecord, open_store
from tests.conftest import FLOWS, ROOT, require
from tests.flows.fanout import FanoutFlow


def _running_tasks(store_path: Path, count: int, timeout: float = 30.0) -> list:
    store = open_store(str(store_path))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for run_id in (
            store.records.list_runs("CrashFlow") if (store_path / "runs").exists() else []
        ):
            tasks = (
                store.records.list_tasks("CrashFlow", run_id, "work")
                if "work" in store.records.list_steps("CrashFlow", run_id)
                else []
            )
            running = [t for t in tasks if t.status == "running"]
            if len(running) >= count:
                return running
        time.sleep(0.05)
    raise AssertionError("the tasks never started")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_signal_cancels_the_run(sig: signal.Signals, tmp_path: Path) -> None:
    psutil = require("psutil")
    proc = subprocess.Popen(
        [
            sys.executable,
            str(FLOWS / "crashes.py"),
            "run",
            "--store",
            str(tmp_path),
            "--modes",
            "sleep,sleep,sleep",
            "--max-workers",
            "2",
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    running = _running_tasks(tmp_path, 2)
    family = [p.pid for p in psutil.Process(proc.pid).children(recursive=True)]
    pids = {t.pid for t in running} | set(family)
    started = time.monotonic()
    proc.send_signal(sig)
    _out, err = proc.communicate(timeout=10)
    elapsed = time.monotonic() - started
    assert elapsed < 2.0, f"took {elapsed:.2f}s to cancel"
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    store = open_store(str(tmp_path))
    (run_id,) = store.records.list_runs("CrashFlow")
    end = store.records.get_run_end("CrashFlow", run_id)
    assert end is not None and end.status == "cancelled"
    tasks = store.records.list_tasks("CrashFlow", run_id, "work")
    assert sorted(t.status for t in tasks) == ["killed", "killed"]
    assert all(t.exception.type == "TaskKilled" for t in tasks)
    time.sleep(0.2)
    alive = [
        p
        for p in pids
        if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE
    ]
    assert alive == [], f"orphans left behind: {alive}"
    assert "cancelled" in err


def test_a_cancel_that_lands_while_a_task_s_end_is_handled_still_ends_that_task(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Ctrl-C arrives while the scheduler handles a task's end (here: once it has read the
    # task's final record). That task must still get its end in the progress view, as killed
    # or done.
    real = scheduler.final_record
    fired: list[str] = []

    def interrupted(*args: Any, **kwargs: Any) -> TaskRecord:
        record = real(*args, **kwargs)
        if record.step == "work" and not fired:
            fired.append(record.task_id)
            raise KeyboardInterrupt
        return record

    monkeypatch.setattr(scheduler, "final_record", interrupted)
    events: dict[str, list[str]] = {}

    class Sink:
        def handle(self, event: object) -> None:
            if isinstance(event, TaskEvent):
                events.setdefault(event.task_id, []).append(event.status)

        def close(self) -> None:
            pass

    with pytest.raises(flowkit.RunFailed) as info:
        flowkit.run(FanoutFlow, store=str(tmp_path), progress=Sink(), n=4, max_workers=1)
    assert info.value.cancelled and fired
    assert events[fired[0]][-1] == "killed", events[fired[0]]
    assert all(seen[-1] != "running" for seen in events.values()), events
