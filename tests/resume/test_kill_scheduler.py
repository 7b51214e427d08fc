"""SIGKILL of the scheduler mid-run, at several moments; then resume completes the run with
correct results, and no task that had finished runs again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import flowkit
from flowkit.store import open_store
from tests.conftest import FLOWS, ROOT, require
from tests.flows.fanout import FanoutFlow
from tests.runtime.test_shapes import Quiet

N = 10


def _succeeded(store_root: Path) -> dict[str, list[str]]:
    store = open_store(str(store_root))
    runs = store.list_runs("FanoutFlow") if (store_root / "runs").exists() else []
    done: dict[str, list[str]] = {}
    for run_id in runs:
        for step in store.list_steps("FanoutFlow", run_id):
            for record in store.list_tasks("FanoutFlow", run_id, step):
                if record.successful:
                    done.setdefault(step, []).append(record.task_id)
    return done


@pytest.mark.parametrize(
    ("kill_when", "sig"),
    [
        (("start", 1), signal.SIGKILL),
        (("work", 4), signal.SIGKILL),
        (("work", N), signal.SIGKILL),
        (("work", 4), signal.SIGINT),
    ],
    ids=["after-start", "mid-fan-out", "all-splits-done", "cancelled-mid-fan-out"],
)
def test_resume_after_the_scheduler_was_killed(
    kill_when: tuple[str, int], sig: signal.Signals, tmp_path: Path
) -> None:
    psutil = require("psutil")
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "FLOWKIT_TEST_SLOW_SPLITS": ",".join(map(str, range(N))),
        "FLOWKIT_TEST_SLOW_SECONDS": "0.15",
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            str(FLOWS / "fanout.py"),
            "run",
            "--store",
            str(tmp_path),
            "--n",
            str(N),
            "--max-workers",
            "2",
            "--quiet",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    step, count = kill_when
    deadline = time.monotonic() + 30
    while len(_succeeded(tmp_path).get(step, [])) < count:
        assert time.monotonic() < deadline and proc.poll() is None, "the run ended too early"
        time.sleep(0.01)
    family = psutil.Process(proc.pid).children(recursive=True)
    os.kill(proc.pid, sig)
    proc.wait(timeout=10)
    _gone, alive = psutil.wait_procs(family, timeout=5)
    assert alive == [], "the worker or its tasks outlived the killed scheduler"
    finished = _succeeded(tmp_path)
    store = open_store(str(tmp_path))
    (origin,) = store.list_runs("FanoutFlow")
    end = store.get_run_end("FanoutFlow", origin)
    if sig == signal.SIGKILL:
        assert end is None  # it never got to say it ended
    else:
        assert end is not None and end.status == "cancelled"

    resumed = flowkit.resume(FanoutFlow, store=str(tmp_path), progress=Quiet())
    assert resumed.successful and resumed.origin_run_id == origin
    assert resumed["join"].task.data.total == sum(i * 10 for i in range(N))
    cloned = {d["task_id"] for d in resumed.explanation if d["action"] == "clone"}
    for ids in finished.values():
        assert set(ids) <= cloned, "a task that had finished ran again"
    ran = [d for d in resumed.explanation if d["action"] == "run"]
    assert all(
        d["reason"]
        in (
            "it never finished in the origin run (the run was interrupted)",
            "it was killed in the origin run",
            "the origin run never got to it",
        )
        or d["reason"].startswith("its input from step")
        for d in ran
    ), ran
