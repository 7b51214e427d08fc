"""A run's CPU time, its tasks' included, counts to the process that ran the command (what
``time``, a benchmark harness or a batch system's accounting measure): every process below
the command line is reaped by its parent, the worker's zygote and the shepherds included."""

from __future__ import annotations

import resource
from pathlib import Path

from tests.conftest import run_python

_FLOW = """
import time
from flowkit import FlowSpec, step


class BurnFlow(FlowSpec):
    @step
    def start(self):
        self.parts = [0, 1]
        self.next(self.burn, foreach="parts")

    @step
    def burn(self):
        end = time.process_time() + 0.75  # CPU time, not wall time
        while time.process_time() < end:
            pass
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    BurnFlow()
"""


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def test_the_cpu_time_of_a_run_s_tasks_counts_to_the_command(tmp_path: Path) -> None:
    flow = tmp_path / "burn.py"
    flow.write_text(_FLOW)
    before = _children_cpu()
    done = run_python(
        flow,
        "run",
        cwd=tmp_path,
        env={"FLOWKIT_STORE": str(tmp_path / "store"), "FLOWKIT_WORKER_LINGER": "0"},
        timeout=120,
    )
    used = _children_cpu() - before
    assert done.returncode == 0, done.stderr
    assert used >= 1.5, f"the command's CPU time was {used:.2f} s: its tasks' 1.5 s were lost"
