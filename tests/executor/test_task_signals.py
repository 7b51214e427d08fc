"""A task starts with the signal state of a fresh process (nothing blocked, default
handlers), whatever its shepherd blocks to outlive it; and a SIGTERM the task's code sends its
own process group ends the task (reported killed by SIGTERM), not the shepherd, which still
kills what the task left behind."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pytest

import flowkit
from flowkit.store import open_store
from tests.flows.task_signals import TaskSignalsFlow
from tests.runtime.test_shapes import Quiet

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="shepherds are Linux and macOS; checked on Linux"
)


def test_a_task_starts_with_no_signal_blocked_and_default_handlers(tmp_path: Path) -> None:
    run = flowkit.run(TaskSignalsFlow, store=str(tmp_path / "s"), progress=Quiet())
    assert run.successful
    data = run["start"].task.data
    assert data.blocked == []
    assert data.handlers == {
        name: int(signal.SIG_DFL) for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGCHLD")
    }


def _gone(pid: int, within: float) -> bool:
    """Whether ``pid`` is gone (or a zombie) now or within ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        try:
            with open(f"/proc/{pid}/stat") as fh:
                if fh.read().rpartition(")")[2].split()[0] == "Z":
                    return True
        except FileNotFoundError:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def test_a_sigterm_to_the_tasks_own_group_ends_the_task_and_what_it_started(
    tmp_path: Path,
) -> None:
    pid_file = tmp_path / "sleep.pid"
    store = str(tmp_path / "s")
    with pytest.raises(flowkit.RunFailed) as info:
        flowkit.run(
            TaskSignalsFlow, store=store, progress=Quiet(), mode="term", pid_file=str(pid_file)
        )
    sleeper = int(pid_file.read_text())
    try:
        run = info.value.run
        record = open_store(store).records.get_task(
            "TaskSignalsFlow", run.id, "start", run["start"].task.id
        )
        assert (record.status, record.exit_code) == ("failed", -signal.SIGTERM)
        assert record.exception is not None and "SIGTERM" in record.exception.message
        assert _gone(sleeper, within=5.0), "the task's child outlived it"
    finally:
        if not _gone(sleeper, within=0):
            os.kill(sleeper, signal.SIGKILL)
