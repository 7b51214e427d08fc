"""``start`` kills the shepherd the warm worker's zygote forked ahead of the next task (a
spare: any of the zygote's children but this task's own shepherd) and the process waiting
below it, as an operator's ``kill`` or an OOM killer might; the steps after it must still run."""

import os
import signal
import time

from flowkit import FlowSpec, step


def _children(pid):
    with open(f"/proc/{pid}/task/{pid}/children") as fh:
        return [int(p) for p in fh.read().split()]


class SpareKilledFlow(FlowSpec):
    @step
    def start(self):
        shepherd = os.getppid()
        with open(f"/proc/{shepherd}/stat") as fh:
            zygote = int(fh.read().rpartition(")")[2].split()[1])
        deadline = time.monotonic() + 10  # the zygote forks it as this task starts
        while not (spares := [p for p in _children(zygote) if p != shepherd]):
            if time.monotonic() > deadline:
                break
            time.sleep(0.01)
        for spare in spares:
            os.killpg(spare, signal.SIGKILL)  # a shepherd leads its group: it and its task
        self.killed = len(spares)
        self.next(self.middle)

    @step
    def middle(self):
        self.next(self.end)

    @step
    def end(self):
        pass
