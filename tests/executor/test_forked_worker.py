"""The command line forks its warm worker from its own process (which has imported flowkit
already) instead of starting a fresh interpreter; the worker sheds what the scheduler's
process held: its descriptors, exit handlers, streams and the flow's modules, which it
imports again from the run's code snapshot. Where forking is not safe, a worker is spawned."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

from flowkit.client import Flow
from flowkit.executor import forked
from tests.conftest import ROOT

_HELPER = """
import os

# each process that imports this module notes its pid: the scheduler, then the worker
with open(os.environ["FORKED_IMPORTS"], "a") as log:
    log.write(f"{os.getpid()}\\n")

GREETING = "hello from helper"
"""

_FLOW = """
import atexit, os, sys

import helper
from flowkit import FlowSpec, step


def _stat(pid):
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()


def _open_files():
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            found.append(os.readlink(f"/proc/self/fd/{fd}"))
        except FileNotFoundError:  # listdir's own, closed since
            pass
    return found


class ForkedFlow(FlowSpec):
    @step
    def start(self):
        worker = int(_stat(os.getppid())[1])  # the task's parent is its shepherd
        self.worker = worker
        self.worker_parent = int(_stat(worker)[1])
        with open(f"/proc/{worker}/cmdline", "rb") as cmdline:
            self.worker_argv = cmdline.read().split(b"\\0")[:-1]
        self.worker_session = os.getsid(worker)
        self.open_files = _open_files()
        self.greeting = helper.GREETING
        print("printed by the task")
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    # held by the scheduler's process only: no task may inherit it
    marker = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "marker.txt"), "w")

    def _noted_exit():
        with open(os.environ["FORKED_EXITS"], "a") as log:
            log.write(f"{os.getpid()}\\n")

    atexit.register(_noted_exit)
    print("buffered by the scheduler before the fork", end="")
    ForkedFlow()
"""


def test_the_command_line_forks_its_worker_which_keeps_nothing_of_the_scheduler(
    tmp_path: Path,
) -> None:
    (tmp_path / "helper.py").write_text(textwrap.dedent(_HELPER))
    flow = tmp_path / "forked_flow.py"
    flow.write_text(textwrap.dedent(_FLOW))
    imports, exits = tmp_path / "imports.log", tmp_path / "exits.log"
    argv = [sys.executable, str(flow), "run", "--store", str(tmp_path / "s")]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.update(FORKED_IMPORTS=str(imports), FORKED_EXITS=str(exits))
    proc = subprocess.Popen(
        argv, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, out
    task = Flow("ForkedFlow", store=str(tmp_path / "s")).latest_run["start"].task
    # forked from the command line's own process, not a fresh `python -m ...forkserver`
    assert task.data.worker_parent == proc.pid
    assert task.data.worker_argv == [arg.encode() for arg in argv]
    assert task.data.worker_session == task.data.worker  # it leads a session of its own
    # the flow's project module was imported again in the worker, from the code snapshot
    assert imports.read_text().split() == [str(proc.pid), str(task.data.worker)]
    assert task.data.greeting == "hello from helper"
    # nothing the scheduler held open reaches a task
    assert not [f for f in task.data.open_files if f.endswith("marker.txt")]
    # the task's output reaches the terminal, and what the scheduler had buffered is shown once
    assert "printed by the task" in out
    assert out.count("buffered by the scheduler before the fork") == 1
    # the scheduler's exit handlers ran in the scheduler only
    assert exits.read_text().split() == [str(proc.pid)]
    assert "printed by the task" in task.stdout


def test_a_worker_is_not_forked_while_another_thread_runs_or_where_the_process_lives_on() -> None:
    # a long-lived process (a notebook, a script) keeps its workers between runs: spawned
    assert not forked.safe(ends_with_run=False)
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:  # a thread could hold a lock the worker would inherit, held for ever
        assert not forked.safe(ends_with_run=True)
    finally:
        stop.set()
        thread.join()
