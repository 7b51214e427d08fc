"""A task's output reaches the store while the task runs, also when it then goes quiet."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from flowkit.store import open_store
from flowkit.store.logs import as_text

ROOT = Path(__file__).resolve().parents[2]

QUIET_AFTER_A_LINE = """\
import os, time
from flowkit import FlowSpec, step


class QuietFlow(FlowSpec):
    @step
    def start(self):
        print("loading", flush=True)
        while not os.path.exists(os.environ["GO_FILE"]):
            time.sleep(0.05)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    QuietFlow()
"""


def test_a_line_printed_before_a_long_quiet_spell_is_readable_at_once(tmp_path: Path) -> None:
    (tmp_path / "quiet.py").write_text(QUIET_AFTER_A_LINE)
    go, store_dir = tmp_path / "go", tmp_path / "store"
    env = {**os.environ, "GO_FILE": str(go), "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "quiet.py", "run", "--quiet", "--store", str(store_dir)],
        cwd=tmp_path,
        env=env,
    )
    try:
        deadline = time.monotonic() + 30
        text = ""
        while "loading" not in text and time.monotonic() < deadline:
            time.sleep(0.1)
            store = open_store(str(store_dir))
            for run_id in store.records.list_runs("QuietFlow") if store_dir.exists() else []:
                for task in store.records.list_tasks("QuietFlow", run_id, "start"):
                    text = as_text(store.logs.read(task, "stdout"))
        assert text == "loading\n", "the line never reached the store while the task waited"
        assert proc.poll() is None  # the task was still waiting when its line was read
    finally:
        go.touch()
        proc.wait(timeout=60)
    assert proc.returncode == 0
