"""The store side of deployments: versions, claims, cursors, events, and what gc and fsck
make of them."""

from __future__ import annotations

import threading
import time

import pytest

from flowkit.store import Store, StoreError
from flowkit.store.deployments import Deployment, Deployments, EventSpec, SchedulerState
from flowkit.store.fsck import fsck
from flowkit.store.gc import collect
from flowkit.store.gc_plan import Policy
from tests.deploy.conftest import deployment


def test_the_latest_version_wins_and_an_undeploy_is_a_version(store: Store) -> None:
    registry = Deployments(store.backend)
    first = registry.put(deployment(version=registry.new_version(), cron="0 2 * * *"))
    second = registry.put(
        deployment(
            version=registry.new_version(),
            cron="0 3 * * *",
            events=(EventSpec("drift", (("threshold", "value"),)),),
        )
    )
    assert registry.versions("NightlyFlow") == [first.version, second.version]
    latest = registry.latest("NightlyFlow")
    assert latest == second
    assert latest is not None and latest.events[0].parameters == (("threshold", "value"),)
    registry.put(deployment(version=registry.new_version(), deleted=True))
    assert registry.latest("NightlyFlow") is None
    assert registry.current() == []
    gone = registry.latest("NightlyFlow", with_deleted=True)
    assert gone is not None and gone.deleted
    assert registry.latest("OtherFlow") is None


def test_a_claim_is_made_once_even_by_racing_threads(store: Store) -> None:
    registry = Deployments(store.backend)
    won: list[int] = []
    barrier = threading.Barrier(8)

    def race(n: int) -> None:
        barrier.wait()
        if registry.claim("NightlyFlow", "slot.1764468000", {"by": n}):
            won.append(n)

    threads = [threading.Thread(target=race, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1
    claim = registry.claimed("NightlyFlow", "slot.1764468000")
    assert claim is not None and claim["by"] == won[0]
    assert registry.claimed("NightlyFlow", "slot.1") is None


def test_state_only_moves_forward(store: Store) -> None:
    registry = Deployments(store.backend)
    registry.save_state(SchedulerState("F", 200.0, {"Up": "b"}, {"drift": "02"}))
    # a scheduler that lags behind (it read the state before the other one wrote)
    merged = registry.save_state(SchedulerState("F", 100.0, {"Up": "a", "Other": "x"}, {}))
    assert merged == SchedulerState("F", 200.0, {"Up": "b", "Other": "x"}, {"drift": "02"})
    assert registry.state("F") == merged
    assert registry.state("G") == SchedulerState("G")


def test_events_are_read_in_order_after_a_cursor(store: Store) -> None:
    registry = Deployments(store.backend)
    ids = [registry.publish("drift", {"n": n}).id for n in range(3)]
    registry.publish("other", {})
    assert ids == sorted(ids)
    assert [e.payload["n"] for e in registry.events_after("drift", None)] == [0, 1, 2]
    assert [e.payload["n"] for e in registry.events_after("drift", ids[0])] == [1, 2]
    assert list(registry.events_after("nothing", None)) == []
    with pytest.raises(StoreError, match="invalid event name"):
        registry.publish("no/slashes", {})


def test_gc_keeps_a_deployed_package_until_the_flow_is_undeployed(store: Store) -> None:
    registry = Deployments(store.backend)
    package = store.values.put({"format": "not read by gc"}, name="package").digest
    registry.put(deployment(version=registry.new_version(), code_digest=package))
    key = f"blobs/{package[:2]}/{package}"
    later = time.time() + 3600  # the package is old enough to go, if nothing names it
    collect(store, Policy(keep_last=1, grace=0), now=later)
    assert store.backend.exists(key)
    registry.put(deployment(version=registry.new_version(), deleted=True))
    report = collect(store, Policy(keep_last=1, grace=0), now=later)
    assert not store.backend.exists(key)
    assert report.trashed == 1


def test_fsck_reads_deployments_and_events(store: Store) -> None:
    registry = Deployments(store.backend)
    package = store.values.put({"code": 1}, name="package").digest
    registry.put(deployment(version=registry.new_version(), code_digest=package))
    registry.claim("NightlyFlow", "slot.1", {})
    registry.save_state(SchedulerState("NightlyFlow", 1.0))
    registry.publish("drift", {"x": 1})
    report = fsck(store)
    assert report.problems == []
    assert report.records >= 4
    store.backend.put("deployments/NightlyFlow/versions/zzz.json", [b"{not json"])
    store.backend.delete(f"blobs/{package[:2]}/{package}")
    found = {p.key: p.message for p in fsck(store).problems}
    assert "not a flowkit deployment" in found["deployments/NightlyFlow/versions/zzz.json"]
    assert any("the code package is blob" in m and "missing" in m for m in found.values())


def test_a_deployment_reads_back_as_written(store: Store) -> None:
    written = deployment(
        version="v2",
        cron="30 2 * * *",
        timezone="Europe/Berlin",
        catchup=True,
        on_finish=("Up",),
        parameters={"size": "5"},
        overlap="queue",
    )
    assert Deployment.from_bytes(written.to_bytes(), "here") == written
    with pytest.raises(StoreError, match="here is not a flowkit deployment"):
        Deployment.from_bytes(b'{"flow": "F"}', "here")


def test_gc_drops_the_claims_and_events_that_can_no_longer_matter(store: Store) -> None:
    from flowkit.store.deployments import RETENTION

    registry = Deployments(store.backend)
    waiting = (EventSpec("drift"),)
    registry.put(deployment("Retrain", version=registry.new_version(), events=waiting))
    replaced = registry.versions("Retrain")
    newest = registry.put(deployment("Retrain", version=registry.new_version(), events=waiting))
    for slot in ("slot.100", "slot.200"):
        registry.claim("Retrain", slot, {})
        registry.launch_done("Retrain", slot, {"run_id": "r"})
    registry.take_over("Retrain", "slot.100", 1, {})
    ids = [registry.publish("drift", {"n": n}).id for n in range(3)]
    for event_id in ids[:2]:
        registry.claim("Retrain", f"event.drift.{event_id}", {})
    registry.publish("nobody_waits", {})
    registry.save_state(SchedulerState("Retrain", 200.0, {}, {"drift": ids[1]}))
    policy = Policy(keep_last=1, grace=0)

    assert collect(store, policy).scheduler_records == 0  # nothing is old yet
    later = time.time() + RETENTION + 60
    dry = collect(store, policy, dry_run=True, now=later)
    assert dry.scheduler_records == 8
    assert "the scheduler's claims and events no longer needed: 8 would be deleted" in (
        dry.summary()
    )
    assert collect(store, policy, now=later).scheduler_records == 8
    assert replaced != [newest.version]
    assert registry.versions("Retrain") == [newest.version]  # the one it replaced went
    left = sorted(
        i.key for i in store.backend.scan("deployments/Retrain") if "/versions/" not in i.key
    )
    assert left == [
        f"deployments/Retrain/claims/event.drift.{ids[1]}.json",  # the newest of its kind
        "deployments/Retrain/claims/slot.200.json",  # the newest slot
        "deployments/Retrain/launched/slot.200.json",
        "deployments/Retrain/state.json",
    ]
    # the event its reader has not passed stays; those read, and one nobody waits for, go
    assert [e.id for e in registry.events_after("drift", None)] == [ids[2]]
    assert list(registry.events_after("nobody_waits", None)) == []
    assert fsck(store).problems == []
