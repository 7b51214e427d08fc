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


LOUD_THEN_QUIET = """\
from flowkit import FlowSpec, step


class LogFlow(FlowSpec):
    @step
    def start(self):
        print("hello from start")
        self.next(self.end)

    @step
    def end(self):
        pass
"""


def test_every_log_ends_by_the_time_the_run_returns(tmp_path: Path) -> None:
    """The worker marks a task's log complete after it reported the task's end (off the
    path to the next task's start), yet before it answers the end of the run: a run that
    returned has every log of its tasks ended, with all their output; a task that printed
    nothing has no log chunk at all, only its end mark."""
    import flowkit
    from flowkit.store import layout

    (tmp_path / "logflow.py").write_text(LOUD_THEN_QUIET)
    store_dir = tmp_path / "store"
    run = flowkit.run(str(tmp_path / "logflow.py"), store=str(store_dir), quiet=True)
    store = open_store(str(store_dir))
    files = {}
    for step in ("start", "end"):
        (task,) = store.records.list_tasks("LogFlow", run.id, step)
        where = layout.log_prefix("LogFlow", run.id, step, task.task_id, task.attempt)
        files[step] = sorted(p.name for p in (store_dir / where).iterdir())
        if step == "start":
            assert as_text(store.logs.read(task, "stdout")) == "hello from start\n"
    assert files["start"] == [layout.LOG_END, "stdout.0000000000"]
    assert files["end"] == [layout.LOG_END]
