"""In a real kernel, re-running a flow reuses the warm worker of the run before, while a
helper changed in another cell and a variable set in ``os.environ`` are seen by the next
run; no worker outlives its kernel, shut down or killed."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from tests.notebook.kernel import execute, text

pytestmark = [pytest.mark.kernel, pytest.mark.slow]

SETUP = """
import json, os
import flowkit
from flowkit import FlowSpec, step
from flowkit.executor import warm
STORE = {store!r}

def parent(pid):
    with open(f"/proc/{{pid}}/stat") as stat:
        return int(stat.read().rsplit(")", 1)[1].split()[1])

def worker():
    '''The warm worker: above this task's shepherd and the worker's zygote.'''
    return parent(parent(os.getppid()))
"""

FLOW = """
class WarmFlow(FlowSpec):
    @step
    def start(self):
        self.value = helper()
        self.env = os.environ.get("WARM_CELL_VAR")
        self.worker = worker()
        self.next(self.end)

    @step
    def end(self):
        pass
"""

RUN = """
data = flowkit.run(WarmFlow, store=STORE, quiet=True)["start"].task.data
print(json.dumps({"value": data.value, "env": data.env, "worker": data.worker}))
"""


def _result(nb: object, index: int) -> dict[str, object]:
    return dict(json.loads(text(nb, index).strip().splitlines()[-1]))


def _gone(pid: int, within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except FileNotFoundError:
            return True
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return True
        time.sleep(0.1)
    return False


def test_a_rerun_in_the_kernel_reuses_the_worker_and_sees_edited_cells(tmp_path: Path) -> None:
    nb = execute(
        [
            SETUP.format(store=str(tmp_path / "store")),
            "def helper():\n    return 'first'",
            FLOW,
            RUN,
            RUN,
            "def helper():\n    return 'edited'",
            RUN,
            "os.environ['WARM_CELL_VAR'] = 'set in a cell'",
            RUN,
            "print(json.dumps({'idle': warm.idle_pids()}))",
        ],
        timeout=300,
    )
    first, again, edited, env_set = (_result(nb, i) for i in (3, 4, 6, 8))
    assert again == first and first["value"] == "first"  # the same worker, no new imports
    assert edited["value"] == "edited" and edited["worker"] != first["worker"]
    assert env_set["env"] == "set in a cell" and edited["env"] is None
    idle = _result(nb, 9)["idle"]
    assert isinstance(idle, list) and env_set["worker"] in idle
    # the kernel was shut down at the end: its workers went with it
    for pid in {int(str(r["worker"])) for r in (first, edited, env_set)}:
        assert _gone(pid), f"warm worker {pid} outlived its kernel"


def test_a_kernel_that_dies_leaves_no_worker_behind(tmp_path: Path) -> None:
    """A kernel killed (no exit handlers run, as in a restart) closes its workers' stdin,
    on which they exit."""
    pids = tmp_path / "worker.pid"
    with pytest.raises(Exception, match=r"(?i)dead|died|kernel"):
        execute(
            [
                SETUP.format(store=str(tmp_path / "store")),
                "def helper():\n    return 'x'",
                FLOW,
                RUN + f"open({str(pids)!r}, 'w').write(str(data.worker))",
                "os._exit(1)",
            ],
            timeout=300,
        )
    pid = int(pids.read_text())
    assert pid != os.getpid()
    assert _gone(pid), f"warm worker {pid} outlived its killed kernel"
