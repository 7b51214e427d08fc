"""A flow whose module, when the warm worker imports it, starts a thread that later (once the
``start`` task asks, so after the worker's setup) starts two processes the way a pool
replacing a worker or a slow daemon would: a direct child of the worker, and a daemon whose
parent exits (double fork). Their pids go to the directory FLOWKIT_TEST_LATE_HELPERS names.
Tasks must not take either with them when they end."""

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from flowkit import FlowSpec, step

DAEMONIZE = (
    "import subprocess, sys\n"
    "child = subprocess.Popen(['sleep', '60'], start_new_session=True)\n"
    "open(sys.argv[1], 'w').write(str(child.pid))\n"
)


def _later(pid_dir):
    while not (pid_dir / "go").exists():
        time.sleep(0.02)
    child = subprocess.Popen(["sleep", "60"])
    (pid_dir / "child.pid").write_text(str(child.pid))
    subprocess.run([sys.executable, "-c", DAEMONIZE, str(pid_dir / "daemon.pid")], check=True)
    (pid_dir / "done").write_text("")


_main = getattr(sys.modules["__main__"], "__spec__", None)
if _main is not None and _main.name == "flowkit.executor.forkserver":
    _DIR = Path(os.environ["FLOWKIT_TEST_LATE_HELPERS"])
    threading.Thread(target=_later, args=(_DIR,), daemon=True).start()


class LateHelpersFlow(FlowSpec):
    @step
    def start(self):
        pid_dir = Path(os.environ["FLOWKIT_TEST_LATE_HELPERS"])
        (pid_dir / "go").write_text("")
        deadline = time.monotonic() + 20
        while not (pid_dir / "done").exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    LateHelpersFlow()
