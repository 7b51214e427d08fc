"""The scheduler's heartbeat renews its run's lease while the run goes, stops when it ends,
and outlives a beat the store refused."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import flowkit
from flowkit.runtime.heartbeat import Heartbeat
from flowkit.store import MemoryBackend, Store, open_store
from flowkit.store.errors import NotFoundError
from flowkit.store.lease import Lease, Leases
from tests.conftest import FLOWS, ROOT
from tests.flows.fanout import FanoutFlow
from tests.runtime.test_shapes import Quiet


@pytest.fixture(autouse=True)
def fast_beats(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWKIT_HEARTBEAT_SECONDS", "0.05")


def _beats(store: Store, run_id: str, seconds: float) -> set[float]:
    seen = set()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        lease = store.leases.get("F", run_id)
        if lease is not None:
            seen.add(lease.written_at)
        time.sleep(0.01)
    return seen


def test_it_beats_until_stopped() -> None:
    store = Store(MemoryBackend())
    run = store.records.create_run("F")
    heartbeat = Heartbeat(store, "F", run.run_id).start()
    assert heartbeat.interval == 0.05
    assert store.leases.get("F", run.run_id) is not None  # the first beat is not deferred
    assert len(_beats(store, run.run_id, 0.5)) >= 3
    heartbeat.stop()
    assert len(_beats(store, run.run_id, 0.3)) == 1


class _Flaky(Leases):
    """Leases that refuse the second beat, as a full disk would."""

    calls = 0

    def renew(self, flow: str, run_id: str, *, interval: float) -> Lease:
        self.calls += 1
        if self.calls == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return super().renew(flow, run_id, interval=interval)


def test_a_refused_beat_does_not_stop_the_heartbeat() -> None:
    store = Store(MemoryBackend())
    store.leases = flaky = _Flaky(store.backend, store.records)
    run = store.records.create_run("F")
    heartbeat = Heartbeat(store, "F", run.run_id).start()
    try:
        assert len(_beats(store, run.run_id, 0.5)) >= 3 and flaky.calls > 3
    finally:
        heartbeat.stop()


def test_a_run_renews_its_lease_and_then_reads_as_it_ended(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWKIT_TEST_SLOW_SPLITS", "0")
    monkeypatch.setenv("FLOWKIT_TEST_SLOW_SECONDS", "0.5")
    run = flowkit.run(FanoutFlow, store=str(tmp_path), n=1, progress=Quiet())
    store = open_store(str(tmp_path))
    lease = store.leases.get("FanoutFlow", run.id)
    assert lease is not None and lease.written_at - run.record.created_at > 0.3
    assert store.leases.run_state(run.record, now=lease.expires_at + 1e6) == "succeeded"


def _start_flow(tmp_path: Path, mode: str) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "FLOWKIT_TEST_WORKER_IMPORT": mode,
        "FLOWKIT_HEARTBEAT_SECONDS": "0.3",
        "FLOWKIT_CLOCK_SKEW_SECONDS": "1",
    }
    command = [sys.executable, str(FLOWS / "worker_import.py"), "run", "--store", str(tmp_path)]
    return subprocess.Popen(
        command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


@pytest.mark.slow
def test_a_run_whose_worker_is_slow_to_start_never_reads_as_crashed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWKIT_CLOCK_SKEW_SECONDS", "1")  # what the reader allows
    proc = _start_flow(tmp_path, "slow")
    seen = []
    while proc.poll() is None:
        try:
            runs = list(flowkit.Flow("WorkerImportFlow", store=str(tmp_path)).runs())
        except NotFoundError:  # no run record yet (its folder can come before its record)
            runs = []
        seen += [r.status for r in runs]
        time.sleep(0.1)
    assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
    assert seen.count("running") > 10  # the worker took 3 s: past the lease and the skew
    assert "crashed" not in seen
    assert flowkit.Flow("WorkerImportFlow", store=str(tmp_path)).latest_run.status == "succeeded"


def test_a_run_whose_worker_cannot_start_reads_as_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWKIT_CLOCK_SKEW_SECONDS", "1")
    proc = _start_flow(tmp_path, "fail")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1 and "this module refuses to load in the worker" in err
    run = flowkit.Flow("WorkerImportFlow", store=str(tmp_path)).latest_run
    time.sleep(2.5)  # past the lease and the skew: it would read as crashed by now
    assert run.status == "failed"
    end = open_store(str(tmp_path)).records.get_run_end("WorkerImportFlow", run.id)
    assert end is not None and end.message is not None
    assert end.message.startswith("the run could not start: ")
