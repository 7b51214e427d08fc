"""``flowkit deploy``, ``deployments``, ``undeploy`` and ``event publish``: what a user sees,
refusals included."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from flowkit.cli.main import cli
from flowkit.client import Run
from flowkit.deploy.due import due
from flowkit.deploy.loop import DeploymentScheduler
from flowkit.store import LocalBackend, Store
from flowkit.store.deployments import Deployments, SchedulerState
from tests.deploy.conftest import FLOWS

MORE = str(FLOWS / "more_flows.py")
DAY = timedelta(days=1)


def flowkit(store: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, [*args, "--store", str(store)])


def test_deploy_list_and_undeploy(tmp_path: Path) -> None:
    store = tmp_path / "store"
    deployed = flowkit(store, "deploy", str(FLOWS / "scheduled_flow.py"), "--size", "7")
    assert deployed.exit_code == 0, deployed.output
    assert "deployed NightlyFlow" in deployed.output
    assert "CET" in deployed.output and "UTC" in deployed.output
    assert (
        flowkit(store, "deploy", str(FLOWS / "chain_flows.py"), "--flow", "Retrain").exit_code == 0
    )
    table = flowkit(store, "deployments")
    assert table.exit_code == 0, table.output
    lines = table.output.splitlines()
    assert lines[0].split()[:2] == ["FLOW", "SCHEDULE"]
    nightly = next(line for line in lines if line.startswith("NightlyFlow"))
    assert "0 2 * * * (Europe/Berlin)" in nightly and "02:00 CET" in nightly
    assert "01:00 UTC" in nightly and "skip" in nightly
    assert "event drift_detected" in next(line for line in lines if line.startswith("Retrain"))
    registry = Deployments(LocalBackend(store))
    latest = registry.latest("NightlyFlow")
    assert latest is not None and latest.parameters == {"size": "7"}
    gone = flowkit(store, "undeploy", "NightlyFlow")
    assert gone.exit_code == 0 and "undeployed NightlyFlow" in gone.output
    assert [d.flow for d in registry.current()] == ["Retrain"]
    again = flowkit(store, "undeploy", "NightlyFlow")
    assert again.exit_code != 0
    assert "NightlyFlow is not deployed" in again.output and "Retrain" in again.output


def test_a_flow_nothing_starts_is_refused(tmp_path: Path) -> None:
    refused = flowkit(tmp_path / "store", "deploy", MORE, "--flow", "PlainFlow")
    assert refused.exit_code != 0
    assert "PlainFlow has neither a schedule nor a trigger" in refused.output
    assert "more_flows.py" in refused.output and "@schedule(cron=" in refused.output


def test_a_trigger_loop_is_refused_naming_it(tmp_path: Path) -> None:
    store = tmp_path / "store"
    assert flowkit(store, "deploy", MORE, "--flow", "LoopA").exit_code == 0
    refused = flowkit(store, "deploy", MORE, "--flow", "LoopB")
    assert refused.exit_code != 0
    assert "trigger loop: LoopB -> LoopA -> LoopB" in refused.output
    assert "more_flows.py" in refused.output and "flowkit undeploy" in refused.output
    assert [d.flow for d in Deployments(LocalBackend(store)).current()] == ["LoopA"]


def test_bad_parameters_are_refused_at_deploy(tmp_path: Path) -> None:
    store = tmp_path / "store"
    unknown = flowkit(store, "deploy", str(FLOWS / "scheduled_flow.py"), "--sise", "7")
    assert unknown.exit_code != 0
    assert "no parameter 'sise'" in unknown.output and "size" in unknown.output
    dangling = flowkit(store, "deploy", str(FLOWS / "scheduled_flow.py"), "--size")
    assert dangling.exit_code != 0 and "--size has no value" in dangling.output
    assert Deployments(LocalBackend(store)).current() == []


def test_event_publish(tmp_path: Path) -> None:
    store = tmp_path / "store"
    published = flowkit(store, "event", "publish", "drift_detected", "--payload", '{"drift": 0.4}')
    assert published.exit_code == 0, published.output
    (event,) = Deployments(LocalBackend(store)).events_after("drift_detected", None)
    assert event.payload == {"drift": 0.4}
    assert event.id in published.output
    bad = flowkit(store, "event", "publish", "drift_detected", "--payload", "{drift}")
    assert bad.exit_code != 0 and "--payload is not JSON" in bad.output
    listed = flowkit(store, "event", "publish", "drift_detected", "--payload", json.dumps([1]))
    assert listed.exit_code != 0 and "not a dict" in listed.output
    badname = flowkit(store, "event", "publish", "no/such")
    assert badname.exit_code != 0 and "invalid event name" in badname.output


def test_memory_store_is_refused() -> None:
    refused = CliRunner().invoke(
        cli, ["deploy", str(FLOWS / "scheduled_flow.py"), "--store", "memory://"]
    )
    assert refused.exit_code != 0 and "memory://" in refused.output
    polling = CliRunner().invoke(cli, ["scheduler", "--once", "--store", "memory://"])
    assert polling.exit_code != 0 and "memory://" in polling.output


def test_an_event_name_that_cannot_be_published_is_refused(tmp_path: Path) -> None:
    flow_file = tmp_path / "dotted.py"
    flow_file.write_text(
        "from flowkit import FlowSpec, step, trigger\n\n\n"
        "@trigger(event='data.ready')\n"
        "class Dotted(FlowSpec):\n"
        "    @step\n"
        "    def start(self):\n"
        "        self.next(self.end)\n\n"
        "    @step\n"
        "    def end(self):\n"
        "        pass\n"
    )
    refused = flowkit(tmp_path / "store", "deploy", str(flow_file))
    assert refused.exit_code != 0
    assert "dotted.py:5" in refused.output
    assert "event name 'data.ready' cannot be published" in refused.output
    assert "an event name is 1-128 ASCII letters" in refused.output


def test_a_redeploy_keeps_the_schedule_going_and_an_undeploy_stops_it(tmp_path: Path) -> None:
    store = tmp_path / "store"
    flow_file = str(FLOWS / "scheduled_flow.py")
    assert flowkit(store, "deploy", flow_file).exit_code == 0
    registry = Deployments(LocalBackend(store))
    first = registry.latest("NightlyFlow")
    assert flowkit(store, "deploy", flow_file, "--size", "9").exit_code == 0
    second = registry.latest("NightlyFlow")
    assert first is not None and second is not None
    assert second.version > first.version and second.parameters == {"size": "9"}
    assert second.active_since == first.active_since  # slots since the first deploy count
    assert flowkit(store, "undeploy", "NightlyFlow").exit_code == 0
    later = datetime.now(UTC) + timedelta(days=3)
    scheduler = DeploymentScheduler(Store(LocalBackend(store)), now=lambda: later, wait=True)
    assert scheduler.tick() == []
    assert flowkit(store, "deploy", flow_file).exit_code == 0
    third = registry.latest("NightlyFlow")
    assert third is not None and third.active_since > second.active_since  # a fresh start


def test_a_schedule_from_a_config_takes_the_config_given_at_deploy(tmp_path: Path) -> None:
    store = tmp_path / "store"
    flow_file = str(FLOWS / "config_flow.py")
    registry = Deployments(LocalBackend(store))
    assert flowkit(store, "deploy", flow_file).exit_code == 0
    by_default = registry.latest("ConfiguredNightly")
    assert by_default is not None and by_default.cron == "0 2 * * *"
    assert [e.name for e in by_default.events] == ["by_default"]
    config = tmp_path / "sched.json"
    config.write_text(json.dumps({"cron": "30 4 * * 1-5", "zone": "Europe/Berlin", "event": "go"}))
    deployed = flowkit(store, "deploy", flow_file, "--config", "sched", str(config))
    assert deployed.exit_code == 0, deployed.output
    assert "04:30 CE" in deployed.output and "runs on event go" in deployed.output
    latest = registry.latest("ConfiguredNightly")
    assert latest is not None
    assert (latest.cron, latest.timezone, [e.name for e in latest.events]) == (
        "30 4 * * 1-5",
        "Europe/Berlin",
        ["go"],
    )
    # the config's value as read at deploy goes to every run, whatever the file says later
    assert latest.parameters == {
        "sched": {"cron": "30 4 * * 1-5", "zone": "Europe/Berlin", "event": "go"}
    }
    value = '{"cron": "0 5 * * *", "zone": "UTC", "event": "go"}'
    inline = flowkit(store, "deploy", flow_file, "--config-value", "sched", value)
    assert inline.exit_code == 0, inline.output
    (next_run,) = [line for line in inline.output.splitlines() if "next run" in line]
    assert next_run.count("05:00 UTC") == 1  # said once when the zone is UTC
    # another cron counts its slots from the redeploy: none from before runs, nor is missed
    changed = registry.latest("ConfiguredNightly")
    assert changed is not None and changed.schedule_since == changed.created_at
    handled = SchedulerState("ConfiguredNightly", slot=changed.created_at - 2 * 86400)
    after = datetime.fromtimestamp(changed.created_at + 60, UTC)
    assert list(due(Store(LocalBackend(store)), changed, handled, after)) == []
    assert [d.kind for d in due(Store(LocalBackend(store)), changed, handled, after + DAY)] == [
        "schedule"
    ]
    # the same schedule again: its slots go on from where they were
    assert flowkit(store, "deploy", flow_file, "--config-value", "sched", value).exit_code == 0
    same = registry.latest("ConfiguredNightly")
    assert same is not None and same.schedule_since == changed.schedule_since
    partial = flowkit(
        store, "deploy", flow_file, "--config-value", "sched", '{"cron": "0 5 * * *"}'
    )
    assert partial.exit_code != 0
    assert "config_flow.py:8: @schedule(" in partial.output
    assert "the config has no key 'zone'" in partial.output
    missing = flowkit(store, "deploy", flow_file, "--config", "sched")
    assert missing.exit_code != 0 and "--config takes two values" in missing.output


@pytest.mark.slow  # two runs' processes
def test_a_payload_that_does_not_convert_fails_once_and_once_wait_says_so(tmp_path: Path) -> None:
    store = tmp_path / "store"
    assert flowkit(store, "deploy", MORE, "--flow", "TypedFlow").exit_code == 0
    bad = flowkit(store, "event", "publish", "numbers", "--payload", '{"value": "abc"}')
    assert bad.exit_code == 0
    failed = flowkit(store, "scheduler", "--once", "--wait")
    assert failed.exit_code == 1, failed.output
    assert "payload field 'value' = 'abc' does not convert for parameter 'alpha'" in failed.output
    assert "1 run(s) failed or could not start" in failed.output
    registry = Deployments(LocalBackend(store))
    (claim,) = registry.claims("TypedFlow")
    launched = registry.launched("TypedFlow", claim)
    assert launched is not None and "'abc'" in launched["failed"]  # closed: never tried again
    assert registry.open_claims("TypedFlow") == []
    assert flowkit(store, "event", "publish", "numbers", "--payload", '{"value": 2}').exit_code == 0
    good = flowkit(store, "scheduler", "--once", "--wait")
    assert good.exit_code == 0, good.output
    (run,) = Store(LocalBackend(store)).records.list_runs("TypedFlow")
    assert Run(f"TypedFlow/{run}", store=Store(LocalBackend(store))).data.doubled == 4.0


def test_a_damaged_deployment_stops_only_its_own_flow(tmp_path: Path) -> None:
    store = tmp_path / "store"
    assert flowkit(store, "deploy", str(FLOWS / "scheduled_flow.py")).exit_code == 0
    assert flowkit(store, "deploy", MORE, "--flow", "TypedFlow").exit_code == 0
    registry = Deployments(LocalBackend(store))
    (version,) = registry.versions("NightlyFlow")
    (store / "deployments/NightlyFlow/versions" / f"{version}.json").write_text("{torn")
    table = flowkit(store, "deployments")
    assert table.exit_code == 0, table.output
    damaged = next(line for line in table.output.splitlines() if line.startswith("NightlyFlow"))
    assert "DAMAGED" in damaged and "not a flowkit deployment" in damaged
    assert any(line.startswith("TypedFlow") for line in table.output.splitlines())
    # the scheduler handles the others, says which one it could not, and --once exits 1
    assert flowkit(store, "event", "publish", "numbers", "--payload", '{"value": 1}').exit_code == 0
    log: list[str] = []
    scheduler = DeploymentScheduler(Store(LocalBackend(store)), log=log.append)
    assert [(d.flow, d.outcome) for d in scheduler.tick()] == [("TypedFlow", "started")]
    assert scheduler.errors == 1
    assert any(line.startswith("NightlyFlow: error:") for line in log)
    once = flowkit(store, "scheduler", "--once")
    assert once.exit_code == 1 and "NightlyFlow: error:" in once.output
    # a tick that fails as a whole is logged, and the scheduler goes on
    stop = threading.Event()

    def unreachable() -> list[object]:
        stop.set()
        raise OSError("the store's disk is gone")

    scheduler.tick = unreachable  # type: ignore[method-assign]
    scheduler.serve(0.01, stop)
    assert "this look at the store failed: the store's disk is gone" in log[-1]
    # deploying again replaces the damaged version, as its hint says
    assert flowkit(store, "deploy", str(FLOWS / "scheduled_flow.py")).exit_code == 0
    assert "DAMAGED" not in flowkit(store, "deployments").output
    while scheduler.running_children():
        time.sleep(0.1)
