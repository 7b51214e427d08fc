"""What is due for a deployment at a moment (a fake clock): slots with and without catchup,
daylight-saving days, upstream runs that succeeded, events and their parameters."""

from __future__ import annotations

from datetime import UTC, datetime

from flowkit.deploy.due import due
from flowkit.store import Store
from flowkit.store.deployments import Deployments, EventSpec, SchedulerState
from tests.deploy.conftest import deployment


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


NIGHTLY = {"cron": "0 2 * * *", "timezone": "Europe/Berlin"}
DEPLOYED = utc(2026, 11, 1).timestamp()


def test_without_catchup_only_the_latest_missed_slot_runs(store: Store) -> None:
    found = list(
        due(
            store,
            deployment(active_since=DEPLOYED, **NIGHTLY),
            SchedulerState("NightlyFlow"),
            utc(2026, 11, 3, 12),
        )
    )
    assert [(d.claim, d.missed) for d in found] == [
        (f"slot.{int(utc(2026, 11, 2, 1).timestamp())}", True),  # 02:00 CET is 01:00 UTC
        (f"slot.{int(utc(2026, 11, 3, 1).timestamp())}", False),
    ]
    assert found[-1].tag == "trigger:schedule:2026-11-03T01:00:00Z@Europe/Berlin"
    assert "slots 2026-11-01T01:00:00Z to 2026-11-02T01:00:00Z were missed" in found[0].reason


def test_a_year_down_without_catchup_is_one_run_and_one_line(store: Store) -> None:
    # a per-minute cron down for a year: 525,600 slots, never enumerated one by one
    every_minute = deployment(active_since=DEPLOYED, cron="* * * * *")
    found = list(
        due(store, every_minute, SchedulerState("NightlyFlow"), utc(2027, 11, 1, 0, 0, 30))
    )
    assert [(d.cursor, d.missed) for d in found] == [
        (utc(2027, 10, 31, 23, 59).timestamp(), True),
        (utc(2027, 11, 1).timestamp(), False),
    ]
    assert "slots 2026-11-01T00:01:00Z to 2027-10-31T23:59:00Z were missed" in found[0].reason
    # one slot missed is named alone; none missed: only the run
    state = SchedulerState("NightlyFlow", slot=utc(2027, 10, 31, 23, 58).timestamp())
    found = list(due(store, every_minute, state, utc(2027, 11, 1, 0, 0, 30)))
    assert "slot 2027-10-31T23:59:00Z was missed" in found[0].reason
    state = SchedulerState("NightlyFlow", slot=utc(2027, 10, 31, 23, 59).timestamp())
    found = list(due(store, every_minute, state, utc(2027, 11, 1, 0, 0, 30)))
    assert [(d.cursor, d.missed) for d in found] == [(utc(2027, 11, 1).timestamp(), False)]


def test_with_catchup_every_missed_slot_runs_oldest_first(store: Store) -> None:
    state = SchedulerState("NightlyFlow", slot=utc(2026, 11, 1, 1).timestamp())
    found = list(
        due(
            store,
            deployment(active_since=DEPLOYED, catchup=True, **NIGHTLY),
            state,
            utc(2026, 11, 3, 12),
        )
    )
    assert [(d.cursor, d.missed) for d in found] == [
        (utc(2026, 11, 2, 1).timestamp(), False),
        (utc(2026, 11, 3, 1).timestamp(), False),
    ]


def test_no_slot_before_the_flow_was_deployed(store: Store) -> None:
    deployed = deployment(active_since=utc(2026, 11, 3, 1, 30).timestamp(), **NIGHTLY)
    assert list(due(store, deployed, SchedulerState("NightlyFlow"), utc(2026, 11, 3, 12))) == []
    found = list(due(store, deployed, SchedulerState("NightlyFlow"), utc(2026, 11, 4, 1)))
    assert [d.cursor for d in found] == [utc(2026, 11, 4, 1).timestamp()]


def slots(store: Store, cron: str, start: datetime, end: datetime) -> list[datetime]:
    deployed = deployment(
        active_since=start.timestamp(), cron=cron, timezone="Europe/Berlin", catchup=True
    )
    found = due(store, deployed, SchedulerState("NightlyFlow"), end)
    return [datetime.fromtimestamp(d.cursor, UTC) for d in found]


def test_a_wall_time_that_does_not_exist_fires_once_after_the_gap(store: Store) -> None:
    # 2026-03-29, Europe/Berlin: 02:00 CET jumps to 03:00 CEST; 02:30 never happens
    assert slots(store, "30 2 * * *", utc(2026, 3, 27, 12), utc(2026, 3, 30, 12)) == [
        utc(2026, 3, 28, 1, 30),  # 02:30 CET
        utc(2026, 3, 29, 1, 0),  # 03:00 CEST, the first instant after the gap
        utc(2026, 3, 30, 0, 30),  # 02:30 CEST
    ]


def test_an_ambiguous_wall_time_fires_once_and_hourly_never_doubles(store: Store) -> None:
    # 2026-10-25, Europe/Berlin: 03:00 CEST falls back to 02:00 CET; 02:30 happens twice
    assert slots(store, "30 2 * * *", utc(2026, 10, 24, 12), utc(2026, 10, 25, 12)) == [
        utc(2026, 10, 25, 0, 30)  # its first occurrence, 02:30 CEST
    ]
    hourly = slots(store, "0 * * * *", utc(2026, 10, 24, 23, 30), utc(2026, 10, 25, 3, 30))
    assert hourly == [utc(2026, 10, 25, h) for h in range(4)]  # every real hour, once


def test_an_upstream_run_fires_once_it_succeeded_never_when_it_failed(store: Store) -> None:
    records = store.records
    before = records.create_run("Upstream")
    records.end_run("Upstream", before.run_id, "succeeded")
    deployed = deployment("Downstream", on_finish=("Upstream",), active_since=9e9)
    assert list(due(store, deployed, SchedulerState("Downstream"), utc(2026, 11, 3))) == []
    deployed = deployment("Downstream", on_finish=("Upstream",), active_since=0.0)
    failed = records.create_run("Upstream")
    records.end_run("Upstream", failed.run_id, "failed")
    going = records.create_run("Upstream")
    found = list(due(store, deployed, SchedulerState("Downstream"), utc(2026, 11, 3)))
    assert [d.claim for d in found] == [f"run.Upstream.{before.run_id}"]
    assert found[0].tag.startswith(f"trigger:run:Upstream/{before.run_id}@")
    records.end_run("Upstream", going.run_id, "succeeded")
    state = SchedulerState("Downstream", runs={"Upstream": failed.run_id})
    found = list(due(store, deployed, state, utc(2026, 11, 3)))
    assert [d.cursor for d in found] == [("Upstream", going.run_id)]


def test_events_map_parameters_from_their_payload(store: Store) -> None:
    registry = Deployments(store.backend)
    old = registry.publish("drift", {"value": 0.1})
    deployed = deployment(
        "Retrain",
        events=(EventSpec("drift", (("threshold", "value"), ("window", "days"))),),
        active_since=datetime.now(UTC).timestamp(),
    )
    first = registry.publish("drift", {"value": 0.9, "days": 7})
    second = registry.publish("drift", {"other": 1})
    found = list(due(store, deployed, SchedulerState("Retrain"), utc(2026, 11, 3)))
    assert old.id not in [d.cursor[1] for d in found]  # published before the deploy
    assert [(d.cursor, d.params) for d in found] == [
        (("drift", first.id), {"threshold": 0.9, "window": 7}),
        (("drift", second.id), {}),  # a field the payload lacks keeps the default
    ]
    state = SchedulerState("Retrain", events={"drift": first.id})
    assert [d.cursor for d in due(store, deployed, state, utc(2026, 11, 3))] == [
        ("drift", second.id)
    ]


def test_a_run_id_that_is_not_time_sorted_never_moves_the_cursor(store: Store) -> None:
    import time

    from flowkit.deploy.due import settled, settled_runs

    records = store.records
    resumed = records.create_run("Upstream", run_id="my-resume")  # a resume given --run-id
    records.end_run("Upstream", resumed.run_id, "succeeded")
    later = records.create_run("Upstream")
    records.end_run("Upstream", later.run_id, "succeeded")
    # 'my-resume' sorts after every time-sorted id: a cursor there would pass over all runs
    assert sorted(records.list_runs("Upstream"))[-1] == "my-resume"
    settled_now = time.time() + 120
    cursor = settled_runs(store, "Upstream", "", now=settled_now)
    assert cursor == later.run_id
    deployed = deployment("Downstream", on_finish=("Upstream",), active_since=0.0)
    state = SchedulerState("Downstream", runs={"Upstream": cursor})
    found = list(due(store, deployed, state, utc(2026, 11, 3)))
    assert [d.claim for d in found] == ["run.Upstream.my-resume"]  # its claim keeps it once
    # a run (or event) id just made may still be overtaken by an older one: not settled yet
    assert settled_runs(store, "Upstream", "", now=time.time()) == ""
    assert not settled(later.run_id, time.time()) and settled(later.run_id, settled_now)


def test_a_clock_set_back_starts_nothing_again(store: Store) -> None:
    for catchup in (False, True):
        nightly = deployment(active_since=DEPLOYED, catchup=catchup, **NIGHTLY)
        state = SchedulerState("NightlyFlow", slot=utc(2026, 11, 3, 1).timestamp())
        assert list(due(store, nightly, state, utc(2026, 11, 2, 12))) == []  # a day back
        assert list(due(store, nightly, state, utc(2026, 11, 3, 12))) == []
        found = list(due(store, nightly, state, utc(2026, 11, 4, 1)))
        assert [(d.cursor, d.missed) for d in found] == [(utc(2026, 11, 4, 1).timestamp(), False)]
