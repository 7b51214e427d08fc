"""A resume that starts while gc deletes its origin: gc, looking again after it deleted the
origin's run.json, writes it back and keeps the run; a resume that comes too late for that
fails cleanly before running anything."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import flowkit
from flowkit.client import Run
from flowkit.errors import FlowkitError
from flowkit.store import LocalBackend, Store, layout
from flowkit.store.fsck import fsck
from flowkit.store.gc import collect
from flowkit.store.gc_plan import Policy
from flowkit.store.runs import Records
from flowkit.testing.fake_run import FakeTask, write_fake_run
from tests.flows.gated import GatedFlow
from tests.runtime.test_shapes import Quiet


@pytest.fixture(autouse=True)
def _no_skew(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWKIT_CLOCK_SKEW_SECONDS", "0")


def test_gc_keeps_a_run_a_resume_names_after_gc_deleted_its_start_record(store: Store) -> None:
    old = write_fake_run(store, "SafeFlow", {"start": [FakeTask({"x": 1}, stdout="one\n")]})
    write_fake_run(store, "SafeFlow", {"start": [FakeTask({"x": 2})]}, tags=["keep"])
    made: list[str] = []

    def meanwhile(phase: str, done: int, total: int) -> None:
        if phase == "checking for resumes of runs that go" and not made:
            # a resume that read old's run.json just before gc deleted it
            assert not store.backend.exists(layout.run_key("SafeFlow", old.run_id))
            resumed = store.records.create_run("SafeFlow", origin_run_id=old.run_id)
            [task] = store.records.list_tasks("SafeFlow", old.run_id, "start")
            store.records.clone_task(task, resumed.run_id, {})
            made.append(resumed.run_id)

    report = collect(store, Policy(keep_tags=("keep",), grace=0), progress=meanwhile)
    assert made and report.spared == [f"SafeFlow/{old.run_id}"] and report.dropped == {}
    assert store.records.get_run("SafeFlow", old.run_id) == old  # written back as it was
    origin = Run(f"SafeFlow/{old.run_id}", store=store)["start"].task
    assert origin.data.x == 1 and [x.text for x in store.logs.read(origin.record, "stdout")] == [
        "one"
    ]
    assert Run(f"SafeFlow/{made[0]}", store=store)["start"].task.data.x == 1
    assert fsck(store).problems == []


def test_a_resume_whose_origin_gc_deleted_meanwhile_fails_before_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "store"
    origin = flowkit.run(GatedFlow, store=str(root), progress=Quiet(), value=1).id
    create_run = Records.create_run

    def then_gc_deletes_the_origin(self: Records, flow: str, **options: Any) -> Any:
        # gc deleted the origin's run.json, and looked for resumes, just before this one
        # wrote its own
        record = create_run(self, flow, **options)
        Store(LocalBackend(root)).backend.delete(layout.run_key(flow, origin))
        return record

    monkeypatch.setattr(Records, "create_run", then_gc_deletes_the_origin)
    with pytest.raises(FlowkitError) as info:
        flowkit.resume(GatedFlow, "middle", origin_run_id=origin, store=str(root), progress=Quiet())
    assert (
        f"flowkit gc deleted run GatedFlow/{origin} while this resume of it" in info.value.message
    )
    assert "nothing ran" in info.value.message and "--origin-run-id" in info.value.hint
    store = Store(LocalBackend(root))
    [resumed] = [r for r in store.records.iter_runs("GatedFlow")]
    assert store.records.list_steps("GatedFlow", resumed.run_id) == []
    end = store.records.get_run_end("GatedFlow", resumed.run_id)
    assert end is not None and end.status == "failed" and "flowkit gc deleted" in str(end.message)
