"""gc and runs that are still going: their parameters' blobs stay while only their start
record names them, and a run whose heartbeat lapsed for a while is not deleted."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

import flowkit
from flowkit.client import Run
from flowkit.store import LocalBackend, Store
from flowkit.store.fsck import fsck
from flowkit.store.gc import collect
from flowkit.store.gc_plan import Policy
from flowkit.testing.fake_run import FakeTask, write_fake_run
from tests.flows.start_gated import StartGatedFlow
from tests.runtime.test_shapes import Quiet
from tests.store.gc_helpers import age_trash, gated_run

HOUR = 3600.0


@pytest.fixture(autouse=True)
def _no_skew(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWKIT_CLOCK_SKEW_SECONDS", "0")


@pytest.mark.slow
def test_a_running_run_keeps_parameter_blobs_stored_long_before(tmp_path: Path) -> None:
    root = tmp_path / "store"
    old = flowkit.run(StartGatedFlow, store=str(root), progress=Quiet(), value=2).id
    three_hours_ago = time.time() - 3 * HOUR  # its blobs, the value 2 among them, are old
    for path in root.rglob("*"):
        if path.is_file():
            os.utime(path, (three_hours_ago, three_hours_ago))
    gate = tmp_path / "gate"
    with gated_run(root, gate, "tests.flows.start_gated:StartGatedFlow", 2) as going:
        # start waits before its final record names the value: only run.json names it
        store = Store(LocalBackend(root, durable=False))
        first = collect(store, Policy(keep_last=1, grace=HOUR))
        assert first.dropped == {"StartGatedFlow": [old]}
        age_trash(root, 2 * HOUR)  # two hours on: a batch would be old enough to be emptied
        collect(store, Policy(keep_last=1, grace=HOUR))
    assert going.process.returncode == 0
    run = Run(f"StartGatedFlow/{going.run_id}", store=Store(LocalBackend(root)))
    assert run.successful and run["start"].task.data.got == 20
    assert fsck(store).problems == []


def test_a_run_whose_heartbeat_lapsed_less_than_grace_ago_is_kept(store: Store) -> None:
    going = write_fake_run(store, "SafeFlow", {"start": [FakeTask({"x": 1})]}, finish=None)
    store.leases.renew("SafeFlow", going.run_id, interval=1)  # expires in 3 s
    # a minute later (a laptop that slept): the lease lapsed, but less than grace ago
    report = collect(store, Policy(keep_tags=("none",), grace=HOUR), now=time.time() + 60)
    assert report.dropped == {} and report.kept == 1
    assert store.records.get_run("SafeFlow", going.run_id).run_id == going.run_id
    # with a grace of 0 the same lapse counts: the run crashed
    report = collect(store, Policy(keep_tags=("none",), grace=0), now=time.time() + 60)
    assert report.dropped == {"SafeFlow": [going.run_id]}
