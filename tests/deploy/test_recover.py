"""A scheduler that crashed between a claim and its run's launch: the claim is launched again
by a later tick (of a restarted scheduler or another), once, after the grace period; never
when its run exists; and a launch for a claim that has its run runs nothing."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from flowkit.client import Flow
from flowkit.deploy.due import due
from flowkit.deploy.launch import LaunchRequest, _Stamped, start_deployed
from flowkit.deploy.loop import DeploymentScheduler, Fired
from flowkit.deploy.recover import GRACE
from flowkit.deploy.register import deploy, publish_event, undeploy
from flowkit.errors import FlowkitError
from flowkit.store import LocalBackend, Store
from flowkit.store.deployments import Deployments
from flowkit.testing.faults import ENV, faulty_url
from tests.deploy.conftest import FLOWS


def crash_after_claim(store: Store, now: datetime) -> str:
    """What a scheduler killed right after its claim's ``put_new`` leaves: the claim alone
    (no run, no launched record, its state not saved). The claim's ``what``."""
    crashed = DeploymentScheduler(store, now=lambda: now, wait=True)
    (deployment,) = crashed.registry.current()
    (item,) = due(store, deployment, crashed.registry.state(deployment.flow), now)
    assert crashed._claim(deployment, item, now)  # the tick's own step, then the kill
    return item.claim


@pytest.mark.slow  # the run launched again is a process of its own
def test_a_claim_cut_short_is_launched_again_once(store: Store) -> None:
    deployed = deploy(FLOWS / "scheduled_flow.py", store=store)
    slot = datetime.fromtimestamp(deployed.active_since, UTC).replace(
        hour=1, minute=0, second=0, microsecond=0
    ) + timedelta(days=1)
    what = crash_after_claim(store, slot + timedelta(minutes=1))
    registry = Deployments(store.backend)
    assert registry.open_claims("NightlyFlow") == [what]

    log: list[str] = []
    restarted = DeploymentScheduler(
        store, now=lambda: slot + timedelta(minutes=2), log=log.append, wait=True
    )
    assert restarted.tick() == []  # within the grace period: its launch may be going on
    assert store.records.list_runs("NightlyFlow") == []

    later = slot + timedelta(minutes=1, seconds=GRACE + 1)
    racers = [
        DeploymentScheduler(store, now=lambda: later, log=log.append, wait=True) for _ in "ab"
    ]
    barrier = threading.Barrier(2)
    results: list[list[Fired]] = []

    def race(racer: DeploymentScheduler) -> None:
        barrier.wait()
        results.append(racer.tick())

    threads = [threading.Thread(target=race, args=(r,)) for r in racers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    fired = [f for r in results for f in r]
    assert [(f.outcome, f.exit_code, f.due.claim) for f in fired] == [("started", 0, what)]
    (run,) = Flow("NightlyFlow", store=store, _namespace_check=False).runs()
    assert f"claim:{what}" in run.system_tags
    assert f"trigger:schedule:{slot:%Y-%m-%dT%H:%M:%SZ}@Europe/Berlin" in run.system_tags
    assert run.data.trigger is None  # still a schedule's run, as the claim said
    launched = registry.launched("NightlyFlow", what)
    assert launched is not None and launched["run_id"] == run.id and launched["attempt"] == 1
    assert registry.open_claims("NightlyFlow") == []
    assert any("whose run never started" in line for line in log)

    # the launched record lost (the run's process killed just after making its run): the
    # run is found by its tag, and the claim closed without a second run
    store.backend.delete(f"deployments/NightlyFlow/launched/{what}.json")
    much_later = later + timedelta(seconds=GRACE + 1)
    assert DeploymentScheduler(store, now=lambda: much_later, wait=True).tick() == []
    assert len(list(Flow("NightlyFlow", store=store, _namespace_check=False).runs())) == 1
    launched = registry.launched("NightlyFlow", what)
    assert launched is not None and launched["run_id"] == run.id


def test_a_claim_that_never_gets_a_run_is_given_up(store: Store) -> None:
    deployed = deploy(FLOWS / "scheduled_flow.py", store=store)
    slot = datetime.fromtimestamp(deployed.active_since, UTC).replace(
        hour=1, minute=0, second=0, microsecond=0
    ) + timedelta(days=1)
    what = crash_after_claim(store, slot)
    registry = Deployments(store.backend)
    # two takeovers whose schedulers crashed too, each after its grace period
    for attempt in (1, 2):
        clock = (slot + timedelta(seconds=attempt * (GRACE + 1))).timestamp()
        assert registry.take_over("NightlyFlow", what, attempt, {"clock": clock})
    log: list[str] = []
    late = slot + timedelta(seconds=4 * (GRACE + 1))
    assert DeploymentScheduler(store, now=lambda: late, log=log.append).tick() == []
    assert registry.launched("NightlyFlow", what) == {
        "flow": "NightlyFlow",
        "claim": what,
        "at": pytest.approx(datetime.now(UTC).timestamp(), abs=60),
        "given_up": 3,
    }
    assert any("given up after 3 attempts" in line for line in log)


def test_a_launch_for_a_claim_that_has_its_run_runs_nothing(store: Store) -> None:
    deployed = deploy(FLOWS / "scheduled_flow.py", store=store)
    registry = Deployments(store.backend)
    registry.claim("NightlyFlow", "slot.1", {})
    registry.launch_done("NightlyFlow", "slot.1", {"run_id": "the-first-run"})
    request = LaunchRequest("NightlyFlow", deployed.version, {}, (), "slot.1", 1)
    with pytest.raises(FlowkitError, match=r"launched already \(as run NightlyFlow/the-first"):
        start_deployed(store, request)
    assert store.records.list_runs("NightlyFlow") == []


@pytest.mark.slow  # a real scheduler process, and its run's process killed
def test_a_run_killed_before_it_said_it_launched_is_not_launched_again(tmp_path: Path) -> None:
    """The run's process SIGKILLed (by the store's fault injection) as it writes its launched
    record: its run exists, the claim looks open. Past the grace period the claim is closed
    with that run, and nothing is launched again."""
    store = Store(LocalBackend(tmp_path / "store", durable=False))
    deploy(FLOWS / "chain_flows.py", flow_name="Retrain", store=store)
    event_id = publish_event("drift_detected", {"drift": 0.7}, store=store)
    what = f"event.drift_detected.{event_id}"
    command = [sys.executable, "-m", "flowkit", "scheduler", "--once", "--wait"]
    done = subprocess.run(
        [*command, "--store", faulty_url(store.url)],
        env={**os.environ, ENV: "kill:/launched/"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stdout + done.stderr  # --once --wait: a run failed
    assert f"the run failed (exit -{signal.SIGKILL})" in done.stdout
    (run_id,) = store.records.list_runs("Retrain")  # made, then killed before its first task
    assert f"claim:{what}" in store.records.get_run("Retrain", run_id).system_tags
    registry = Deployments(store.backend)
    assert registry.open_claims("Retrain") == [what]

    later = datetime.now(UTC) + timedelta(seconds=GRACE + 1)
    assert DeploymentScheduler(store, now=lambda: later, wait=True).tick() == []
    assert store.records.list_runs("Retrain") == [run_id]  # never a second run
    launched = registry.launched("Retrain", what)
    assert launched is not None and launched["run_id"] == run_id


def test_a_claim_refused_because_the_flow_was_undeployed_never_runs_later(store: Store) -> None:
    deployed = deploy(FLOWS / "scheduled_flow.py", store=store)
    now = datetime.fromtimestamp(deployed.active_since, UTC)
    registry = Deployments(store.backend)
    # claimed, then undeployed before the run's process looked: it refuses, closing the claim
    refused = crash_after_claim_of(store, "slot.1", now)
    stale = crash_after_claim_of(store, "slot.2", now)  # its scheduler killed: no launch
    undeploy("NightlyFlow", store=store)
    with pytest.raises(FlowkitError, match="undeployed after the scheduler decided"):
        start_deployed(store, LaunchRequest("NightlyFlow", deployed.version, {}, (), refused))
    assert registry.launched("NightlyFlow", refused) == {
        "flow": "NightlyFlow",
        "claim": refused,
        "at": pytest.approx(datetime.now(UTC).timestamp(), abs=60),
        "undeployed": True,
    }
    # deployed again: the claim no launch closed is from before, so it is not launched
    again = deploy(FLOWS / "scheduled_flow.py", store=store)
    assert again.active_since > deployed.active_since
    later = datetime.fromtimestamp(again.active_since + 1, UTC)
    assert DeploymentScheduler(store, now=lambda: later, claim_grace=0.0).tick() == []
    assert store.records.list_runs("NightlyFlow") == []  # neither ran after the redeploy
    launched = registry.launched("NightlyFlow", stale)
    assert launched is not None and launched["undeployed"] is True


def crash_after_claim_of(store: Store, what: str, now: datetime) -> str:
    """A claim as a scheduler makes it, its launch never done."""
    registry = Deployments(store.backend)
    (deployment,) = registry.current()
    details = {"by": "a:1", "scheduler": "gone", "clock": now.timestamp() - 10, "kind": "schedule"}
    assert registry.claim(deployment.flow, what, {**details, "version": deployment.version})
    return what


def test_a_launched_runs_lines_say_when_and_which_flow() -> None:
    out = io.StringIO()
    stamped = _Stamped(out, "NightlyFlow")
    stamped.write("✓ NightlyFlow/1 succeeded\nerror: a")
    stamped.write("nd a hint\n    hint: x")
    stamped.flush()
    lines = out.getvalue().splitlines()
    assert [line.split(" ", 1)[1] for line in lines] == [
        "NightlyFlow: ✓ NightlyFlow/1 succeeded",
        "NightlyFlow: error: and a hint",
        "NightlyFlow:     hint: x",
    ]
    assert all(datetime.strptime(line.split(" ")[0], "%Y-%m-%dT%H:%M:%SZ") for line in lines)
