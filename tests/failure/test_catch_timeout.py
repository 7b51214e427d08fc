"""@catch stores the failure and goes on, marked as caught; @timeout kills the whole
process group (grandchildren too), is recorded as timed out, and is retried."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

import flowkit
from flowkit.runtime.events import TaskEvent
from flowkit.store import open_store
from flowkit.task.caught import CaughtFailure
from tests.failure.helpers import assert_sound, attempts
from tests.flows.failures import CatchFlow, TimeoutFlow
from tests.runtime.test_shapes import Quiet


def test_catch_stores_the_exception_and_the_flow_goes_on(tmp_path: Path) -> None:
    progress = Quiet()
    run = flowkit.run(CatchFlow, store=str(tmp_path), progress=progress)
    assert run.successful
    risky = run["risky"].task
    assert risky.status == "caught" and risky.successful
    error = risky.data.error
    assert isinstance(error, CaughtFailure)
    assert (error.type, error.message) == ("builtins.KeyError", "'attempt 1 has no luck'")
    assert error.failure == "error"
    assert 'failures.py", line' in error.traceback and "in risky" in error.traceback
    assert risky.data.kept == "from start"  # inherited artifacts pass on
    assert risky.data.tried == "attempt 1"  # what the last failed attempt set is kept
    assert run["end"].task.data.summary == "from start; builtins.KeyError"
    assert attempts(tmp_path, "CatchFlow", "risky") == [
        [("failed", "error"), ("failed", "error"), ("caught", "error")]
    ]
    caught = [e for e in progress.events if isinstance(e, TaskEvent) and e.status == "caught"]
    assert len(caught) == 1 and "KeyError" in str(caught[0].error)
    # the one real retry is announced; the attempt that only stores the exception is not
    retrying = [e for e in progress.events if isinstance(e, TaskEvent) and e.status == "retrying"]
    assert [(e.step, e.attempt) for e in retrying] == [("risky", 0)]
    assert_sound(tmp_path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie waiting for its reaper is dead for our purposes
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(")")[-1].split()[0] != "Z"


def test_timeout_kills_the_process_group_and_is_retried(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    pids.mkdir()
    started = time.monotonic()
    with pytest.raises(flowkit.RunFailed) as info:
        flowkit.run(TimeoutFlow, store=str(tmp_path / "s"), progress=Quiet(), pid_dir=str(pids))
    assert time.monotonic() - started < 15
    assert attempts(tmp_path / "s", "TimeoutFlow", "slow") == [
        [("failed", "timeout"), ("failed", "timeout")]
    ]
    record = open_store(str(tmp_path / "s")).records.get_task(
        "TimeoutFlow", info.value.run.id, "slow", info.value.run["slow"].task.id
    )
    assert record.exception is not None and record.exception.type == "TaskTimedOut"
    assert "@timeout of 1s" in record.exception.message
    grandchildren = [int(p.read_text()) for p in sorted(pids.glob("*.pid"))]
    assert len(grandchildren) == 2
    deadline = time.monotonic() + 5
    while any(map(_alive, grandchildren)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(map(_alive, grandchildren)), "a grandchild outlived its task's timeout"
