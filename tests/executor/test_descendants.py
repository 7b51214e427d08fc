"""Every process a task started dies with the task, even one that left the task's process
group (``setsid``) or was orphaned: when the task succeeds, fails, times out or is cancelled.
While the task runs, its orphans are reaped (no zombies pile up) and its own children stay its
own to wait for; what the flow's module started in the worker is never taken; a lost task's
pid is not signalled once it may name another process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import flowkit
from flowkit.executor.base import Lost
from flowkit.executor.local import LocalExecutor
from flowkit.executor.reaper import start_time
from flowkit.runtime.events import TaskEvent
from tests.conftest import FLOWS, ROOT, require, run_python
from tests.flows.import_helper import ImportHelperFlow
from tests.flows.late_helpers import LateHelpersFlow
from tests.flows.session_children import SessionChildrenFlow
from tests.flows.zombies import ZombiesFlow
from tests.runtime.test_shapes import Quiet

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="descendants are tracked on Linux only"
)


def _alive(pids: list[int]) -> list[int]:
    psutil = require("psutil")
    alive = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.append(pid)
        except psutil.NoSuchProcess:
            continue
    return alive


def _spawned(pid_dir: Path, attempts: int = 1) -> list[int]:
    pids = {int(p.read_text()) for p in pid_dir.glob("*.pid")}
    assert len(pids) == 2 * attempts
    return sorted(pids)


@pytest.mark.parametrize("mode", ["succeed", "fail", "timeout", "kill-worker", "kill-zygote"])
def test_a_tasks_descendants_end_with_it(mode: str, tmp_path: Path) -> None:
    pid_dir = tmp_path / "pids"
    pid_dir.mkdir()
    store = str(tmp_path / "s")
    try:
        run = flowkit.run(
            SessionChildrenFlow, store=store, progress=Quiet(), pid_dir=str(pid_dir), mode=mode
        )
        assert mode == "succeed" and run.successful
    except flowkit.RunFailed as failed:
        assert mode != "succeed", failed.render()
        expected = {
            "fail": "RuntimeError",
            "timeout": "TaskTimedOut",
            "kill-worker": "TaskLost",
            "kill-zygote": "TaskLost",  # the worker's tasks are lost with it, as with the worker
        }
        assert expected[mode] in failed.render()
    lost = mode in ("kill-worker", "kill-zygote")
    pids = _spawned(pid_dir, 2 if lost else 1)  # a lost task is retried
    if lost:  # killed by the scheduler, not reaped by it: they die soon
        deadline = time.monotonic() + 5
        while _alive(pids) and time.monotonic() < deadline:
            time.sleep(0.05)
    try:
        # Otherwise they are gone by the time the run has seen the task end: no waiting.
        assert _alive(pids) == [], f"descendants outlived their {mode} task"
    finally:
        for pid in _alive(pids):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.slow
def test_a_cancelled_tasks_descendants_end_with_it(tmp_path: Path) -> None:
    pid_dir = tmp_path / "pids"
    pid_dir.mkdir()
    proc = subprocess.Popen(
        [
            sys.executable,
            str(FLOWS / "session_children.py"),
            "run",
            *("--store", str(tmp_path / "s"), "--pid_dir", str(pid_dir), "--mode", "hang"),
        ],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while not (pid_dir / "ready").exists():
        assert time.monotonic() < deadline and proc.poll() is None, "the task never started"
        time.sleep(0.02)
    pids = _spawned(pid_dir)
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=15)
    try:
        assert proc.returncode == 130, err
        assert _alive(pids) == [], "descendants outlived their cancelled task"
    finally:
        for pid in _alive(pids):
            os.kill(pid, signal.SIGKILL)


def test_a_process_the_flows_module_started_in_the_worker_is_left_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    helper_file = tmp_path / "helper.pid"
    monkeypatch.setenv("FLOWKIT_TEST_HELPER_PID", str(helper_file))
    seen: list[tuple[str, list[int]]] = []

    class Watch(Quiet):
        def handle(self, event: object) -> None:
            super().handle(event)
            if isinstance(event, TaskEvent) and event.status == "succeeded":
                seen.append((event.step, _alive([int(helper_file.read_text())])))

    run = flowkit.run(ImportHelperFlow, store=str(tmp_path / "s"), progress=Watch())
    assert run.successful
    helper = int(helper_file.read_text())
    try:
        # Alive when each task's end is reported: it is the worker's, not a task's.
        assert seen == [("start", [helper]), ("end", [helper])]
    finally:
        for pid in _alive([helper]):
            os.kill(pid, signal.SIGKILL)


def test_a_process_the_flows_module_started_in_the_worker_later_is_left_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pool replacing a worker, a daemon done double-forking: after the worker's setup."""
    monkeypatch.setenv("FLOWKIT_TEST_LATE_HELPERS", str(tmp_path))
    helpers: list[int] = []
    seen: list[tuple[str, list[int]]] = []

    class Watch(Quiet):
        def handle(self, event: object) -> None:
            super().handle(event)
            if isinstance(event, TaskEvent) and event.status == "succeeded":
                if not helpers:
                    helpers.extend(
                        int((tmp_path / f"{n}.pid").read_text()) for n in ("child", "daemon")
                    )
                seen.append((event.step, _alive(helpers)))

    try:
        run = flowkit.run(LateHelpersFlow, store=str(tmp_path / "s"), progress=Watch())
        assert run.successful
        assert seen == [("start", helpers), ("end", helpers)]
    finally:
        for pid in _alive(helpers):
            os.kill(pid, signal.SIGKILL)


def test_zombies_do_not_pile_up_while_a_task_runs(tmp_path: Path) -> None:
    run = flowkit.run(ZombiesFlow, store=str(tmp_path), progress=Quiet())
    data = run["spawn"].task.data
    assert data.zombies == 0, "the orphans a task left behind were not reaped while it ran"
    # the task's own children stay its own to wait for
    assert (data.own_status, data.popen_status) == (3, 5)


def test_a_lost_task_whose_pid_was_reused_is_left_alone() -> None:
    """The worker died; init reaped the task and gave its pid to a new session leader."""
    other = subprocess.Popen(["sleep", "60"], start_new_session=True)  # a shell, tmux, ...
    try:
        started = start_time(other.pid)
        assert started is not None
        executor = LocalExecutor.__new__(LocalExecutor)
        executor._tasks = {"lost": (other.pid, started - 1)}  # what the lost task recorded
        assert executor._lost() == [Lost("lost")]
        time.sleep(0.1)
        assert other.poll() is None, "a process that reused a lost task's pid was killed"
        executor._tasks = {"lost": (other.pid, started)}  # the task itself: killed
        executor._lost()
        assert other.wait(timeout=5) == -signal.SIGKILL
    finally:
        other.kill()
        other.wait()


_UNDER_A_REAPER = """
import os, sys, time
from flowkit.executor.reaper import become_subreaper, children_of
assert become_subreaper()  # stands in for init: what is orphaned comes here
import flowkit
from tests.flows.session_children import SessionChildrenFlow
from tests.runtime.test_shapes import Quiet
try:
    flowkit.run(SessionChildrenFlow, store=sys.argv[1], progress=Quiet(), pid_dir=sys.argv[2],
                mode="timeout")
except flowkit.RunFailed as failed:
    assert "TaskTimedOut" in failed.render()
time.sleep(0.5)
from flowkit.executor import warm  # the run's warm worker, kept for a next run, is no orphan
print([pid for pid in children_of(os.getpid()) if pid not in warm.idle_pids()])
"""


@pytest.mark.slow
def test_a_timed_out_task_leaves_no_zombie_to_init(tmp_path: Path) -> None:
    """In a container whose init never reaps (the scheduler as PID 1, say), what was killed
    with a task is reaped by flowkit: nothing of it is orphaned to init."""
    pid_dir = tmp_path / "pids"
    pid_dir.mkdir()
    result = run_python("-c", _UNDER_A_REAPER, tmp_path / "s", pid_dir)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["[]"], "processes of the killed task were left to init"
    assert _alive(_spawned(pid_dir)) == []
