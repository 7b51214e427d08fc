"""An exception inside the scheduler itself ends the run as failed, with why, and the
process exits: never a run left ``running`` forever, never a traceback for a user."""

from __future__ import annotations

import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

import flowkit
from flowkit.runtime.policy import FailurePolicy, backoff_delay
from flowkit.store import open_store
from flowkit.testing.faults import ENV, faulty_url
from tests.conftest import FLOWS
from tests.failure.helpers import env
from tests.flows.failures import FlakyFlow
from tests.runtime.test_shapes import Quiet


@pytest.mark.parametrize("attempt", [1023, 1024, 1100, 100_000])
def test_backoff_never_overflows(attempt: int) -> None:
    rng = random.Random(0)
    assert backoff_delay({"backoff": 0}, attempt, rng) == 0.0
    assert 0.0 <= backoff_delay({"backoff": 1.0, "max_delay": 30}, attempt, rng) <= 30.0


def test_a_scheduler_bug_ends_the_run_as_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: FailurePolicy, node: object, attempt: int) -> float:
        raise RuntimeError("the scheduler tripped")

    monkeypatch.setattr(FailurePolicy, "delay", broken)
    with pytest.raises(flowkit.RunFailed) as info:
        flowkit.run(FlakyFlow, store=str(tmp_path), progress=Quiet())
    run = info.value.run
    assert run.status == "failed"
    end = run.end_record
    assert end is not None and end.message is not None
    assert end.message.startswith("the scheduler failed: RuntimeError: the scheduler tripped at ")
    assert "test_scheduler_failure.py:" in end.message and "resume the run" in end.message
    assert "the scheduler tripped" in info.value.message
    # Finished, so it never reads as crashed, however late it is read.
    store = open_store(str(tmp_path))
    assert store.leases.run_state(run.record, now=time.time() + 1e6) == "failed"


def _run_file(flow_file: Path, *args: str | Path, timeout: float, **extra: str) -> str:
    proc = subprocess.run(
        [sys.executable, str(flow_file), "run", *map(str, args)],
        env=env(**extra),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output
    return output


def test_a_store_that_refuses_the_scheduler_ends_the_run_as_failed(tmp_path: Path) -> None:
    """The scheduler writes a failed task's dead letter; a full disk there stops it."""
    output = _run_file(
        FLOWS / "crashes.py",
        "--store",
        faulty_url(tmp_path),
        "--modes",
        "raise",
        timeout=120,
        **{ENV: "enospc:deadletters/"},
    )
    store = open_store(str(tmp_path))
    (run_id,) = store.records.list_runs("CrashFlow")
    end = store.records.get_run_end("CrashFlow", run_id)
    assert end is not None and end.status == "failed" and end.message is not None
    assert end.message.startswith("the scheduler stopped: the store at ")
    assert "is full: writing deadletters/" in end.message
    assert end.message.splitlines()[0] in output
    assert "hint: free space on that disk" in output
    assert "Traceback" not in output.split("was told to fail")[-1], output


@pytest.mark.slow
def test_a_thousand_retries_end_in_a_failed_run(tmp_path: Path) -> None:
    """``@retry(times=1100, backoff=0)`` once overflowed computing the 1024th delay and left
    the run ``running`` forever; every attempt must run, then the run fails as usual."""
    started = time.monotonic()
    output = _run_file(FLOWS / "endless_retry.py", "--store", tmp_path, "--quiet", timeout=400)
    assert "OverflowError" not in output and "Traceback" not in output.split("boom always")[-1]
    store = open_store(str(tmp_path))
    (run_id,) = store.records.list_runs("EndlessRetryFlow")
    assert store.leases.run_state(store.records.get_run("EndlessRetryFlow", run_id)) == "failed"
    (task,) = store.records.list_tasks("EndlessRetryFlow", run_id, "boom")
    assert task.attempt == 1100 and task.status == "failed"
    assert f"EndlessRetryFlow/{run_id} failed" in output
    assert "ValueError: boom always fails" in output
    assert time.monotonic() - started < 400
