"""``look`` records the signal state its task starts with; ``term`` (with ``mode=term``)
starts a ``sleep`` in its process group, writes its pid to ``pid_file``, then sends SIGTERM
to that whole group, as code that stops "everything of mine" politely does."""

import os
import signal
import subprocess
import time
from pathlib import Path

from flowkit import FlowSpec, Parameter, step


class TaskSignalsFlow(FlowSpec):
    mode = Parameter("mode", default="look")
    pid_file = Parameter("pid_file", default="")

    @step
    def start(self):
        self.blocked = sorted(int(s) for s in signal.pthread_sigmask(signal.SIG_BLOCK, []))
        self.handlers = {
            name: int(signal.getsignal(getattr(signal, name)))
            for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGCHLD")
        }
        if self.mode == "term":
            child = subprocess.Popen(["sleep", "60"])
            Path(self.pid_file).write_text(str(child.pid))
            os.killpg(0, signal.SIGTERM)
            time.sleep(10)
        self.next(self.end)

    @step
    def end(self):
        pass
