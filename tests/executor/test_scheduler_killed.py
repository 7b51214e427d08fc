"""``kill -9`` of ``python flow.py run``: the warm worker notices its scheduler is gone, kills
the tasks and exits without a word (no traceback in the user's terminal)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flowkit.store import open_store
from tests.conftest import FLOWS, ROOT, require


def _running(store_root: Path, count: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if (store_root / "runs").exists():
            store = open_store(str(store_root))
            for run_id in store.records.list_runs("FanoutFlow"):
                if "work" in store.records.list_steps("FanoutFlow", run_id):
                    tasks = store.records.list_tasks("FanoutFlow", run_id, "work")
                    if sum(t.status == "running" for t in tasks) >= count:
                        return
        time.sleep(0.02)
    raise AssertionError("the tasks never started")


@pytest.mark.slow
def test_the_worker_exits_quietly_when_the_scheduler_is_killed(tmp_path: Path) -> None:
    psutil = require("psutil")
    err_file = tmp_path / "terminal.txt"
    with err_file.open("w") as terminal:
        proc = subprocess.Popen(
            [
                sys.executable,
                str(FLOWS / "fanout.py"),
                "run",
                *("--store", str(tmp_path / "s"), "--n", "4", "--max-workers", "2"),
            ],
            env={
                **os.environ,
                "PYTHONPATH": str(ROOT),
                "FLOWKIT_TEST_SLOW_SPLITS": "0,1,2,3",
                "FLOWKIT_TEST_SLOW_SECONDS": "30",
            },
            stdout=terminal,
            stderr=terminal,
        )
        _running(tmp_path / "s", 2)
        family = psutil.Process(proc.pid).children(recursive=True)
        assert len(family) >= 3  # the worker and two tasks
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        _gone, alive = psutil.wait_procs(family, timeout=10)
    assert alive == [], "the worker or its tasks outlived the killed scheduler"
    output = err_file.read_text()
    assert "Traceback" not in output and "BrokenPipeError" not in output, output
