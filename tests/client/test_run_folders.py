"""A run folder without its start record (a killed start, or what an object store shows of a
run gc deleted) is not a run: not listed, not "in" its flow."""

from __future__ import annotations

from pathlib import Path

from flowkit.client import Flow
from flowkit.store import LocalBackend, Store


def test_a_run_folder_without_its_start_record_is_not_a_run(tmp_path: Path) -> None:
    store = Store(LocalBackend(tmp_path / "s", durable=False))
    kept = store.records.create_run("F")
    # what an object store shows of a run gc deleted (an empty prefix), or a killed start
    store.backend.put(f"runs/F/{store.records.new_run_id()}/steps/a/t.0.start.json", [b"{}"])
    flow = Flow("F", store=store)
    assert kept.run_id in flow and "nope" not in flow and "../x" not in flow
    assert [run.id for run in flow] == [kept.run_id]
