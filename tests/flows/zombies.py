"""``spawn`` leaves 20 background ``sleep 0.1`` behind (``sh -c 'sleep 0.1 &'``: each is
orphaned when its shell exits) and, while it still runs, counts the zombies of its session
once they have ended. It also checks that its own children are still its to wait for: the
exit status of a child that ended before ``os.waitpid`` was called, and ``Popen.wait``'s."""

import os
import subprocess
import time
from pathlib import Path

from flowkit import FlowSpec, step


def zombies_in_session(sid, *waited):
    """Zombies of session ``sid`` but ``waited`` (this process is to wait for those)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if fields[0] == "Z" and int(fields[3]) == sid and int(entry.name) not in waited:
            found.append(int(entry.name))
    return found


class ZombiesFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.spawn)

    @step
    def spawn(self):
        own = subprocess.Popen(["sh", "-c", "exit 3"])
        popen = subprocess.Popen(["sh", "-c", "exit 5"])
        for _ in range(20):
            subprocess.run("sleep 0.1 &", shell=True, check=True)
        deadline = time.monotonic() + 5
        time.sleep(1)
        while (
            found := zombies_in_session(os.getsid(0), own.pid, popen.pid)
        ) and time.monotonic() < deadline:
            time.sleep(0.1)
        self.zombies = len(found)
        self.own_status = os.waitstatus_to_exitcode(os.waitpid(own.pid, 0)[1])
        self.popen_status = popen.wait()
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ZombiesFlow()
