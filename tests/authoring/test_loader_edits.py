"""A flow file edited between two loads in one process is loaded as it is now, even when
the edit keeps its size and its mtime (the bytecode cache would take it for unchanged)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import run_python

FLOW = """\
from flowkit import FlowSpec, step


class EditedFlow(FlowSpec):
    WHICH = "a"

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
"""

PROBE = """\
import os, sys
from flowkit.authoring.loader import load_flow_file

flow = sys.argv[1]
before = os.stat(flow)
first = load_flow_file(flow).WHICH
with open(flow) as fh:
    text = fh.read()
with open(flow, "w") as fh:
    fh.write(text.replace('WHICH = "a"', 'WHICH = "b"'))
os.utime(flow, ns=(before.st_atime_ns, before.st_mtime_ns))  # as if within the same tick
print(first, load_flow_file(flow).WHICH, sorted(os.listdir(os.path.dirname(flow))))
"""


def test_a_same_size_edit_within_the_same_second_is_seen(tmp_path: Path) -> None:
    flow = tmp_path / "edited_flow.py"
    flow.write_text(FLOW)
    # with the bytecode cache on, as a user's Python has it
    result = run_python("-c", PROBE, str(flow), env={"PYTHONDONTWRITEBYTECODE": None})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().split(maxsplit=2) == ["a", "b", "['edited_flow.py']"]
