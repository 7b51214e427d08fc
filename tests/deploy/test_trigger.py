"""``current.trigger`` read back from the system tags the scheduler gives a run."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from flowkit.client.trigger import Trigger, trigger_tags
from flowkit.store import Store


def test_events_and_runs_in_metaflows_shape(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWKIT_STORE", store.url)  # where a task's client reads
    store.records.create_run("IngestFlow", run_id="01xyz")
    tags = [
        "user:ann",
        trigger_tags("event", "drift_detected/01abc", 1_800_000_000.5),
        trigger_tags("run", "IngestFlow/01xyz", 1_800_000_100.0),
    ]
    trigger = Trigger.from_tags(tags)
    assert trigger is not None
    latest = trigger.event
    assert latest is not None and latest.type == "run"
    assert latest.name == "metaflow.IngestFlow.end" and latest.id == "IngestFlow/01xyz"
    assert latest.timestamp == datetime.fromtimestamp(1_800_000_100.0, UTC)
    assert [e.name for e in trigger.events or []] == ["metaflow.IngestFlow.end", "drift_detected"]
    assert trigger["drift_detected"].id == "01abc"  # type: ignore[union-attr]
    runs = trigger.runs
    assert runs is not None and [r.pathspec for r in runs] == ["IngestFlow/01xyz"]
    assert trigger["IngestFlow"].pathspec == "IngestFlow/01xyz"  # type: ignore[union-attr]
    with pytest.raises(KeyError):
        trigger["nothing"]


def test_a_run_nothing_fired_has_no_trigger() -> None:
    assert Trigger.from_tags(["user:ann", "trigger:schedule:2026-12-01T01:00:00Z"]) is None
    assert Trigger.from_tags(["trigger:event:broken"]) is None
    only_events = Trigger.from_tags([trigger_tags("event", "go/01a", 1.0)])
    assert only_events is not None and only_events.run is None and only_events.runs is None
