"""SIGKILL of the scheduler mid-run, at several moments; then resume completes the run with
correct results, and no task that had finished runs again. Meanwhile, the run reads as
crashed: its scheduler's lease ran out."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import flowkit
from flowkit.cli.main import cli as flowkit_cli
from flowkit.client import Run
from flowkit.store import Store, TaskRecord, open_store
from tests.conftest import FLOWS, ROOT, require
from tests.failure.helpers import flowkit_cli as flowkit_command
from tests.flows.fanout import FanoutFlow
from tests.runtime.test_shapes import Quiet

N = 10


def _succeeded(store_root: Path) -> dict[str, list[str]]:
    store = open_store(str(store_root))
    runs = store.records.list_runs("FanoutFlow") if (store_root / "runs").exists() else []
    done: dict[str, list[str]] = {}
    for run_id in runs:
        for step in store.records.list_steps("FanoutFlow", run_id):
            for record in store.records.list_tasks("FanoutFlow", run_id, step):
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
    (origin,) = store.records.list_runs("FanoutFlow")
    end = store.records.get_run_end("FanoutFlow", origin)
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


def _unfinished_work(store: Store, run_id: str) -> TaskRecord | None:
    if "work" not in store.records.list_steps("FanoutFlow", run_id):
        return None
    tasks = store.records.list_tasks("FanoutFlow", run_id, "work")
    return next((t for t in tasks if not t.final), None)


@pytest.mark.slow
def test_a_killed_scheduler_reads_as_crashed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGKILL of the scheduler: no end record, but its lease runs out, so the client, runs,
    show and logs --follow say crashed within seconds; then the run resumes as always."""
    monkeypatch.setenv("FLOWKIT_HEARTBEAT_SECONDS", "0.5")
    monkeypatch.setenv("FLOWKIT_CLOCK_SKEW_SECONDS", "2")
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "FLOWKIT_TEST_SLOW_SPLITS": "0,1,2,3",
        "FLOWKIT_TEST_SLOW_SECONDS": "60",
    }
    args = ["--store", str(tmp_path), "--n", "4", "--max-workers", "2", "--quiet"]
    proc = subprocess.Popen(
        [sys.executable, str(FLOWS / "fanout.py"), "run", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    store = open_store(str(tmp_path))
    deadline = time.monotonic() + 30
    unfinished = None
    while unfinished is None:
        assert time.monotonic() < deadline and proc.poll() is None, "no task started"
        time.sleep(0.05)
        runs = store.records.list_runs("FanoutFlow") if (tmp_path / "runs").exists() else []
        unfinished = _unfinished_work(store, runs[0]) if runs else None
    run = Run(f"FanoutFlow/{unfinished.run_id}", store=store)
    time.sleep(2.5)  # longer than a lease lasts: only beats keep it running
    assert run.status == "running" and run.heartbeat_at is not None

    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    killed = time.monotonic()
    while run.status == "running":
        assert time.monotonic() - killed < 15, "the run still reads as running"
        time.sleep(0.1)
    assert run.status == "crashed" and not run.finished
    assert store.records.get_run_end("FanoutFlow", run.id) is None

    cli = CliRunner()
    listed = cli.invoke(flowkit_cli, ["runs", "FanoutFlow", "--store", str(tmp_path)])
    assert listed.exit_code == 0 and listed.output.splitlines()[1].split()[:2] == [
        run.id,
        "crashed",
    ]
    shown = cli.invoke(flowkit_cli, ["show", run.pathspec, "--store", str(tmp_path)])
    assert shown.exit_code == 0 and shown.output.startswith(f"run {run.pathspec}: crashed\n")
    assert (
        f"resume it: python {os.path.relpath(FLOWS / 'fanout.py')} resume --origin-run-id {run.id}"
        in shown.output
    )

    started = time.monotonic()
    followed = flowkit_command(
        "logs", "--follow", unfinished.pathspec, "--store", tmp_path, timeout=30,
        FLOWKIT_CLOCK_SKEW_SECONDS="2",
    )  # fmt: skip
    assert time.monotonic() - started < 20
    assert followed.returncode == 1, followed.stdout + followed.stderr
    assert followed.stderr.startswith(
        f"error: task {unfinished.pathspec} (attempt 0) never finished: its run crashed; "
    )
    assert (
        f"hint: resume the run: python {os.path.relpath(FLOWS / 'fanout.py')} resume --origin-run-id {run.id}"
        in (followed.stderr)
    )

    resumed = flowkit.resume(FanoutFlow, store=str(tmp_path), progress=Quiet())
    assert resumed.successful and resumed.origin_run_id == run.id
    assert resumed["join"].task.data.total == sum(i * 10 for i in range(4))
    assert resumed.status == "succeeded" and run.status == "crashed"
