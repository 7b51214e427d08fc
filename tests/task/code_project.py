"""A small project for the code-package tests: a flow file, a helper module it imports and
one a step imports, named after a tag so that projects of different tests never share a module name."""

from __future__ import annotations

from pathlib import Path

HELPER = """\
VALUE = "{value}"


def items():
    return {items}
"""

FLOW = """\
import os
import signal
import time

from flowkit import FlowSpec, retry, step

import helper_{tag} as helper

MARK = "{value}"


def _parent(pid):
    with open("/proc/%d/stat" % pid) as stat:
        return int(stat.read().rsplit(")", 1)[1].split()[1])


class EditFlow(FlowSpec):
    @step
    def start(self):
        self.first = (MARK, helper.VALUE)
        gate = os.environ.get("FLOWKIT_TEST_GATE")
        if gate:  # say the run is going, then wait until the test has edited the files
            open(gate + ".waiting", "w").close()
            while not os.path.exists(gate):
                time.sleep(0.02)
        self.items = helper.items()
        self.next(self.each, foreach="items")

    @retry(times=2)
    @step
    def each(self):
        gate = os.environ.get("FLOWKIT_TEST_GATE")
        if gate and not os.path.exists(gate + ".restarted"):
            # kill the warm worker (above this task's shepherd and the worker's zygote): a new
            # one starts, after the edit, and runs this step again
            open(gate + ".restarted", "w").close()
            os.kill(_parent(_parent(os.getppid())), signal.SIGKILL)
            time.sleep(60)
        import lazy_{tag} as lazy  # imported by the step only, not when the run starts

        self.seen = (MARK, lazy.VALUE, self.input)
        self.next(self.join)

    @step
    def join(self, inputs):
        self.all = sorted(i.seen for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        self.last = (MARK, helper.VALUE)
        self.where = __file__  # files next to the flow are found where they are


if __name__ == "__main__":
    EditFlow()
"""

ORIGINAL = ("original", [1, 2, 3])
EDITED = ("edited", [9])


def write_project(root: Path, tag: str, version: tuple[str, list[int]] = ORIGINAL) -> Path:
    """Write (or overwrite) the project under ``root``; the flow file's path."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text("[project]\nname = 'demo'\n")
    value, items = version
    (root / f"helper_{tag}.py").write_text(HELPER.format(value=value, items=items))
    (root / f"lazy_{tag}.py").write_text(f'VALUE = "{value}"\n')
    flow = root / f"flow_{tag}.py"
    flow.write_text(FLOW.format(tag=tag, value=value))
    return flow


def original_results() -> dict[str, object]:
    """What every step of the original code computes."""
    return {
        "first": ("original", "original"),
        "all": [("original", "original", i) for i in (1, 2, 3)],
        "last": ("original", "original"),
    }
