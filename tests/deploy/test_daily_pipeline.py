"""The daily-pipeline example (examples/daily_pipeline), deployed to a fresh store and driven
by a fake clock through one night and a drift event: which runs start, in which order, and
with which parameters and data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from flowkit.authoring.cron import CronSchedule
from flowkit.authoring.loader import load_flow_file
from flowkit.client import Flow, Run
from flowkit.deploy.loop import DeploymentScheduler
from flowkit.deploy.register import deploy, publish_event
from flowkit.lint.api import check
from flowkit.store import Store
from tests.conftest import ROOT

PIPELINE = ROOT / "examples" / "daily_pipeline"


@pytest.mark.slow  # six real runs, each a process of its own
def test_one_night_and_a_drift_event(store: Store) -> None:
    for name, params in (
        ("ingest", {}),
        ("features", {}),
        ("train", {}),
        ("evaluate", {"threshold": "0.95"}),
    ):
        deploy(PIPELINE / f"{name}.py", params=params, store=store)
    deployed_at = datetime.now(UTC)
    night = CronSchedule("0 2 * * *", "Europe/Berlin").next_after(deployed_at)
    clock = [deployed_at]
    log: list[str] = []
    scheduler = DeploymentScheduler(store, now=lambda: clock[0], log=log.append, wait=True)
    assert scheduler.tick() == []  # before 02:00 nothing is due
    clock[0] = night + timedelta(minutes=1)
    started: list[str] = []
    for _ in range(6):  # each tick starts what the last one's runs made due
        started += [d.flow for d in scheduler.tick() if d.outcome == "started"]
    assert started == ["IngestFlow", "FeaturesFlow", "TrainFlow", "EvaluateFlow"]
    publish_event("drift_detected", {"reason": "input mean moved"}, store=store)
    for _ in range(3):
        started += [d.flow for d in scheduler.tick() if d.outcome == "started"]
    assert started[4:] == ["TrainFlow", "EvaluateFlow"]

    def runs(flow: str) -> list[Run]:
        return sorted(Flow(flow, store=store, _namespace_check=False).runs(), key=lambda r: r.id)

    (ingest,) = runs("IngestFlow")
    # the slot's day in Berlin (current.scheduled_at), not the clock's nor UTC's
    assert ingest.data.day == night.astimezone(ZoneInfo("Europe/Berlin")).date().isoformat()
    (features,) = runs("FeaturesFlow")
    assert features.data.source == ingest.pathspec
    nightly, retrain = runs("TrainFlow")
    assert nightly.data.reason == "new features"
    assert retrain.data.reason == "input mean moved"  # mapped from the event's payload
    assert nightly.data.features == retrain.data.features == features.pathspec
    assert abs(nightly.data.model["slope"] - 3.0) < 0.1
    evaluations = runs("EvaluateFlow")
    assert [e.data.trained for e in evaluations] == [nightly.pathspec, retrain.pathspec]
    assert all(e.data.decision == "deploy" and e.data.score > 0.95 for e in evaluations)
    assert evaluations[0].data.published == nightly.data.model
    # every run started by the scheduler after its upstream, in order
    order = sorted(
        [*runs("IngestFlow"), *runs("FeaturesFlow"), *runs("TrainFlow"), *runs("EvaluateFlow")],
        key=lambda r: r.id,
    )
    assert [r.pathspec.split("/")[0] for r in order] == [
        "IngestFlow",
        "FeaturesFlow",
        "TrainFlow",
        "EvaluateFlow",
        "TrainFlow",
        "EvaluateFlow",
    ]


def test_the_pipeline_retries_its_ingest_and_watches_its_training() -> None:
    ingest = check(load_flow_file(PIPELINE / "ingest.py")).steps["start"].decorator("retry")
    assert ingest is not None and ingest.args["times"] == 2
    train = check(load_flow_file(PIPELINE / "train.py")).steps["start"].decorator("sla")
    assert train is not None and train.args["minutes"] == 30
