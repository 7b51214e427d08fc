"""The scheduler driven by a fake clock, starting real runs: missed slots, a restart, two
schedulers racing on one store, upstream runs, events and overlap policies."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from flowkit.authoring.loader import load_flow_file
from flowkit.client import Flow, Run
from flowkit.deploy.loop import DeploymentScheduler
from flowkit.deploy.register import deploy, publish_event
from flowkit.store import Store, layout
from flowkit.store.deployments import Deployments
from flowkit.surfaces.api import run as run_flow
from tests.deploy.conftest import FLOWS

pytestmark = pytest.mark.slow  # each run the scheduler starts is a process of its own


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def runs(store: Store, flow: str) -> list[Run]:
    """The flow's runs, oldest first."""
    return sorted(Flow(flow, store=store, _namespace_check=False).runs(), key=lambda r: r.id)


def scheduler(store: Store, clock: Callable[[], datetime], log: list[str]) -> DeploymentScheduler:
    return DeploymentScheduler(store, now=clock, log=log.append, wait=True)


def test_missed_slots_a_restart_and_two_schedulers_racing(store: Store) -> None:
    deployed = deploy(FLOWS / "scheduled_flow.py", params={"size": "5"}, store=store)
    clock = Clock(datetime.fromtimestamp(deployed.active_since, UTC))
    first_slot = datetime.fromtimestamp(deployed.active_since, UTC).replace(
        hour=1, minute=0, second=0, microsecond=0
    ) + timedelta(days=1)  # 02:00 Berlin is 01:00 UTC in winter
    log: list[str] = []
    assert scheduler(store, clock, log).tick() == []  # nothing due yet
    clock.now = first_slot + timedelta(days=2, hours=3)  # down for three nights
    done = scheduler(store, clock, log).tick()
    assert [d.outcome for d in done] == ["missed", "started"]
    assert done[-1].exit_code == 0
    (nightly,) = runs(store, "NightlyFlow")
    assert nightly.data.rows == [0, 1, 2, 3, 4]  # the deployment's parameter
    assert nightly.data.trigger is None  # a schedule is no event: as Metaflow's
    slot = (first_slot + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert f"trigger:schedule:{slot}@Europe/Berlin" in nightly.system_tags
    # current.scheduled_at: the slot, in the schedule's zone (02:00 there, 01:00 UTC)
    assert nightly.data.slot == first_slot + timedelta(days=2)
    assert (nightly.data.slot.hour, str(nightly.data.slot.tzinfo)) == (2, "Europe/Berlin")
    assert any("slot" in line and "missed" in line for line in log)

    # restarted: the cursor says the slot was handled
    assert scheduler(store, clock, log).tick() == []
    # the cursor lost too (a crash between the claim and the state): the claim holds
    store.backend.delete(layout.deployment_state_key("NightlyFlow"))
    again = scheduler(store, clock, log).tick()
    assert [d.outcome for d in again] == ["missed"]  # reported, never started
    assert len(runs(store, "NightlyFlow")) == 1

    # the next night, two schedulers on one store
    clock.now = first_slot + timedelta(days=3, minutes=1)
    racers = [scheduler(store, clock, log) for _ in range(2)]
    barrier = threading.Barrier(2)
    results: list[list[object]] = []

    def race(racer: DeploymentScheduler) -> None:
        barrier.wait()
        results.append(list(racer.tick()))

    threads = [threading.Thread(target=race, args=(r,)) for r in racers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(len(r) for r in results) == [0, 1]
    assert len(runs(store, "NightlyFlow")) == 2


def test_runs_after_upstream_success_and_on_events(store: Store) -> None:
    deploy(FLOWS / "chain_flows.py", flow_name="Downstream", store=store)
    deploy(FLOWS / "chain_flows.py", flow_name="Retrain", store=store)
    clock = Clock(datetime.now(UTC))
    log: list[str] = []
    upstream = load_flow_file(FLOWS / "chain_flows.py", "Upstream")
    good = run_flow(upstream, store=store, quiet=True)
    with pytest.raises(Exception, match="upstream failed on purpose"):
        run_flow(upstream, store=store, quiet=True, fail=True)
    event_id = publish_event("drift_detected", {"drift": 0.9, "unused": 1}, store=store)
    done = scheduler(store, clock, log).tick()
    assert sorted((d.flow, d.outcome, d.exit_code) for d in done) == [
        ("Downstream", "started", 0),
        ("Retrain", "started", 0),
    ]
    (downstream,) = runs(store, "Downstream")  # the failed upstream run fired nothing
    assert downstream.data.upstream == good.pathspec
    assert downstream.data.value == 42
    (retrain,) = runs(store, "Retrain")
    assert retrain.data.seen == 0.9
    assert retrain.data.event == "drift_detected"
    assert any(
        t.startswith(f"trigger:event:drift_detected/{event_id}@") for t in retrain.system_tags
    )
    assert scheduler(store, clock, log).tick() == []  # each fires once


def test_overlap_queue_waits_and_skip_passes_over(store: Store) -> None:
    deploy(FLOWS / "more_flows.py", flow_name="QueuedFlow", store=store)
    deploy(FLOWS / "more_flows.py", flow_name="SkippedFlow", store=store)
    published = [publish_event("work", {"item": item}, store=store) for item in ("1st", "2nd")]
    log: list[str] = []
    going = DeploymentScheduler(store, now=lambda: datetime.now(UTC), log=log.append)
    done = going.tick()  # starts the runs and goes on: each flow has one going now
    assert sorted((d.flow, d.outcome) for d in done) == [
        ("QueuedFlow", "queued"),
        ("QueuedFlow", "started"),
        ("SkippedFlow", "skipped"),
        ("SkippedFlow", "started"),
    ]
    deadline = time.monotonic() + 120
    while going.running_children() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert going.running_children() == 0
    later = going.tick()
    assert [(d.flow, d.outcome) for d in later] == [("QueuedFlow", "started")]
    while going.running_children() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert [r.data.done for r in runs(store, "QueuedFlow")] == ["1st", "2nd"]
    assert [r.data.done for r in runs(store, "SkippedFlow")] == ["1st"]
    skipped = Deployments(store.backend).claimed("SkippedFlow", f"event.work.{published[1]}")
    assert skipped is not None and skipped["skipped"] is True
    assert any("SkippedFlow" in line and "skipped" in line for line in log)


def wait_for(going: DeploymentScheduler) -> None:
    deadline = time.monotonic() + 120
    while going.running_children() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert going.running_children() == 0


def test_catchup_runs_each_missed_slot_in_turn_without_wait(store: Store) -> None:
    deployed = deploy(FLOWS / "more_flows.py", flow_name="CatchupFlow", store=store)
    since = datetime.fromtimestamp(deployed.active_since, UTC)
    hour = since.replace(minute=0, second=0, microsecond=0)
    slots = [hour + timedelta(hours=n) for n in (1, 2, 3)]
    log: list[str] = []
    going = DeploymentScheduler(store, now=lambda: slots[-1] + timedelta(minutes=5), log=log.append)
    outcomes = []
    for _ in range(3):  # the default overlap="skip" passes over none of them
        done = going.tick()
        outcomes.append([d.outcome for d in done])
        wait_for(going)
    assert outcomes == [["started", "queued"], ["started", "queued"], ["started"]]
    assert [r.data.slot for r in runs(store, "CatchupFlow")] == slots  # oldest first
    assert going.tick() == []
    # without --wait, how each run ended is said at the next tick
    assert sum("the run succeeded" in line for line in log) == 3
