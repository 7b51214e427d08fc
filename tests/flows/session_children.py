"""``spawn`` starts two ``sleep 60`` processes that leave the task's process group: one in a
session of its own, one daemonized (its parent exits, so it is orphaned). It then succeeds,
fails, outlives its @timeout, hangs (to be cancelled), kills its warm worker or the worker's
zygote, as ``mode`` says. Each sleep's pid is written to ``pid_dir``, one file per process
and attempt."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from flowkit import FlowSpec, Parameter, current, step, timeout

DAEMONIZE = (
    "import subprocess, sys\n"
    "child = subprocess.Popen(['sleep', '60'], start_new_session=True)\n"
    "open(sys.argv[1], 'w').write(str(child.pid))\n"
)


def _parent_of(pid):
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rpartition(")")[2].split()[1])


class SessionChildrenFlow(FlowSpec):
    pid_dir = Parameter("pid_dir", default="")
    mode = Parameter("mode", default="succeed")

    @step
    def start(self):
        self.next(self.spawn)

    @timeout(seconds=3)
    @step
    def spawn(self):
        child = subprocess.Popen(["sleep", "60"], start_new_session=True)
        attempt = current.retry_count
        Path(self.pid_dir, f"session-{attempt}.pid").write_text(str(child.pid))
        daemon_pid = Path(self.pid_dir, f"daemon-{attempt}.pid")
        subprocess.run([sys.executable, "-c", DAEMONIZE, str(daemon_pid)], check=True)
        Path(self.pid_dir, "ready").write_text("")
        if self.mode == "fail":
            raise RuntimeError("failing on purpose")
        zygote = _parent_of(os.getppid())  # the task's parent is its shepherd
        if self.mode == "kill-worker":
            os.kill(_parent_of(zygote), signal.SIGKILL)
        if self.mode == "kill-zygote":  # the warm worker's child that forks its tasks
            os.kill(zygote, signal.SIGKILL)
        if self.mode in ("timeout", "hang", "kill-worker", "kill-zygote"):
            time.sleep(60)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    SessionChildrenFlow()
