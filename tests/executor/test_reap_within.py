"""``reaper.reap_within``: how a worker waits for its zygote, and a zygote for its
shepherds, as a run ends: each child reaped as it exits, the ones still running returned."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from flowkit.executor.reaper import reap_within


def _child(seconds: float) -> int:
    # Forked, not started with Popen: Popen would reap it itself.
    pid = os.fork()
    if pid == 0:
        time.sleep(seconds)
        os._exit(3)
    return pid


def test_children_are_reaped_as_they_exit() -> None:
    early, late = _child(0.0), _child(0.3)
    began = time.monotonic()
    assert reap_within([early, late], within=60.0) == set()
    # woken by the exits, not at the deadline (a generous bound: a loaded machine is slow)
    assert time.monotonic() - began < 30.0
    for pid in (early, late):
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            continue  # reaped: nothing of it is left to wait for
        raise AssertionError(f"child {pid} was not reaped")


def test_a_child_still_running_is_returned_unreaped() -> None:
    stuck, done = _child(60.0), _child(0.0)
    try:
        assert reap_within([stuck, done], within=0.3) == {stuck}
        assert os.waitpid(stuck, os.WNOHANG) == (0, 0)  # still ours, still running
    finally:
        os.kill(stuck, signal.SIGKILL)
        os.waitpid(stuck, 0)


def test_a_pid_that_is_not_a_child_counts_as_gone() -> None:
    other = subprocess.Popen([sys.executable, "-c", "pass"])
    other.wait()  # reaped by Popen: no longer anyone's child
    assert reap_within([other.pid], within=5.0) == set()
