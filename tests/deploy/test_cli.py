"""``flowkit deploy``, ``deployments``, ``undeploy`` and ``event publish``: what a user sees,
refusals included."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner, Result

from flowkit.cli.main import cli
from flowkit.deploy.loop import DeploymentScheduler
from flowkit.store import LocalBackend, Store
from flowkit.store.deployments import Deployments
from tests.deploy.conftest import FLOWS

MORE = str(FLOWS / "more_flows.py")


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
    assert "05:00 UTC" in inline.output
    partial = flowkit(
        store, "deploy", flow_file, "--config-value", "sched", '{"cron": "0 5 * * *"}'
    )
    assert partial.exit_code != 0
    assert "config_flow.py:8: @schedule(" in partial.output
    assert "the config has no key 'zone'" in partial.output
    missing = flowkit(store, "deploy", flow_file, "--config", "sched")
    assert missing.exit_code != 0 and "--config takes two values" in missing.output
