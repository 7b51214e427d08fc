"""The scheduler's heartbeat renews its run's lease while the run goes, stops when it ends,
and outlives a beat the store refused."""

from __future__ import annotations

import errno
import time
from pathlib import Path

import pytest

import flowkit
from flowkit.runtime.heartbeat import Heartbeat
from flowkit.store import MemoryBackend, Store, open_store
from flowkit.store.lease import Lease
from tests.flows.fanout import FanoutFlow
from tests.runtime.test_shapes import Quiet


@pytest.fixture(autouse=True)
def fast_beats(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWKIT_HEARTBEAT_SECONDS", "0.05")


def _beats(store: Store, run_id: str, seconds: float) -> set[float]:
    seen = set()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        lease = store.get_lease("F", run_id)
        if lease is not None:
            seen.add(lease.written_at)
        time.sleep(0.01)
    return seen


def test_it_beats_until_stopped() -> None:
    store = Store(MemoryBackend())
    run = store.create_run("F")
    heartbeat = Heartbeat(store, "F", run.run_id).start()
    assert heartbeat.interval == 0.05
    assert store.get_lease("F", run.run_id) is not None  # the first beat is not deferred
    assert len(_beats(store, run.run_id, 0.5)) >= 3
    heartbeat.stop()
    assert len(_beats(store, run.run_id, 0.3)) == 1


class _Flaky(Store):
    """A store that refuses the second beat, as a full disk would."""

    calls = 0

    def renew_lease(self, flow: str, run_id: str, *, interval: float) -> Lease:
        self.calls += 1
        if self.calls == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return super().renew_lease(flow, run_id, interval=interval)


def test_a_refused_beat_does_not_stop_the_heartbeat() -> None:
    store = _Flaky(MemoryBackend())
    run = store.create_run("F")
    heartbeat = Heartbeat(store, "F", run.run_id).start()
    try:
        assert len(_beats(store, run.run_id, 0.5)) >= 3 and store.calls > 3
    finally:
        heartbeat.stop()


def test_a_run_renews_its_lease_and_then_reads_as_it_ended(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWKIT_TEST_SLOW_SPLITS", "0")
    monkeypatch.setenv("FLOWKIT_TEST_SLOW_SECONDS", "0.5")
    run = flowkit.run(FanoutFlow, store=str(tmp_path), n=1, progress=Quiet())
    store = open_store(str(tmp_path))
    lease = store.get_lease("FanoutFlow", run.id)
    assert lease is not None and lease.written_at - run.record.created_at > 0.3
    assert store.run_state(run.record, now=lease.expires_at + 1e6) == "succeeded"
