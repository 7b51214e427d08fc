"""A run's lease: running while it is renewed, crashed once it ran out, never for a run that
ended; clock skew is allowed for; the durations come from the environment when read."""

from __future__ import annotations

import pytest

from flowkit.store import MemoryBackend, Store
from flowkit.store.errors import StoreError
from flowkit.store.lease import LEASE_BEATS, clock_skew, heartbeat_interval

FLOW = "LeaseFlow"


@pytest.fixture
def store() -> Store:
    return Store(MemoryBackend())


def test_a_renewed_lease_reads_running_and_a_lapsed_one_crashed(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWKIT_CLOCK_SKEW_SECONDS", "10")
    run = store.records.create_run(FLOW)
    lease = store.leases.renew(FLOW, run.run_id, interval=5.0)
    assert lease.expires_at == pytest.approx(lease.written_at + LEASE_BEATS * 5.0)
    assert store.leases.run_state(run, now=lease.written_at) == "running"
    # Past the lease, but within the skew allowed between the two machines' clocks.
    assert store.leases.run_state(run, now=lease.expires_at + 9.0) == "running"
    assert store.leases.run_state(run, now=lease.expires_at + 11.0) == "crashed"
    renewed = store.leases.renew(FLOW, run.run_id, interval=5.0)
    assert store.leases.run_state(run, now=renewed.written_at) == "running"


@pytest.mark.parametrize("status", ["succeeded", "failed", "cancelled"])
def test_a_run_that_ended_never_reads_crashed(store: Store, status: str) -> None:
    run = store.records.create_run(FLOW)
    lease = store.leases.renew(FLOW, run.run_id, interval=5.0)
    store.records.end_run(FLOW, run.run_id, status)  # type: ignore[arg-type]
    assert store.leases.run_state(run, now=lease.expires_at + 1e6) == status


def test_a_run_whose_scheduler_never_beat_counts_from_its_creation(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWKIT_HEARTBEAT_SECONDS", "2")
    monkeypatch.setenv("FLOWKIT_CLOCK_SKEW_SECONDS", "1")
    run = store.records.create_run(FLOW)
    assert store.leases.get(FLOW, run.run_id) is None
    assert store.leases.run_state(run, now=run.created_at + 6.5) == "running"
    assert store.leases.run_state(run, now=run.created_at + 7.5) == "crashed"


def test_the_lease_says_where_its_scheduler_runs(store: Store) -> None:
    run = store.records.create_run(FLOW)
    written = store.leases.renew(FLOW, run.run_id, interval=5.0)
    read = store.leases.get(FLOW, run.run_id)
    assert read == written and read.host and read.pid


def test_a_damaged_lease_is_a_clear_error(store: Store) -> None:
    run = store.records.create_run(FLOW)
    store.backend.put(f"leases/{FLOW}/{run.run_id}.json", [b"{not json"])
    with pytest.raises(StoreError, match=f"leases/{FLOW}/{run.run_id}.json is not a flowkit"):
        store.leases.run_state(run)


def test_durations_are_read_from_the_environment_when_needed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("FLOWKIT_HEARTBEAT_SECONDS", raising=False)
    monkeypatch.delenv("FLOWKIT_CLOCK_SKEW_SECONDS", raising=False)
    assert (heartbeat_interval(), clock_skew()) == (5.0, 10.0)
    monkeypatch.setenv("FLOWKIT_HEARTBEAT_SECONDS", "0.25")
    monkeypatch.setenv("FLOWKIT_CLOCK_SKEW_SECONDS", "0")
    assert (heartbeat_interval(), clock_skew()) == (0.25, 0.0)


@pytest.mark.parametrize("value", ["soon", "0", "-1", "nan", "inf"])
def test_a_bad_heartbeat_setting_says_what_to_do(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWKIT_HEARTBEAT_SECONDS", value)
    with pytest.raises(StoreError, match=r"FLOWKIT_HEARTBEAT_SECONDS=.* is not a number") as err:
        heartbeat_interval()
    assert "set it to a positive number" in err.value.hint
