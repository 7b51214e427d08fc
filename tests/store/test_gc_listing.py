"""gc and fsck on a store that is not a folder (memory), and how they list it: by ``scan``,
with no probe (``exists``, ``size``) per object, which would be a HEAD request each on S3."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import pytest

from flowkit.store import MemoryBackend, Store
from flowkit.store.fsck import fsck
from flowkit.store.gc import collect
from flowkit.store.gc_plan import Policy
from flowkit.store.reuse_keys import remember
from flowkit.testing.fake_run import FakeTask, write_fake_run


class Counting(MemoryBackend):
    """A memory backend that counts its probes and listings."""

    def __init__(self) -> None:
        super().__init__("gc-listing")
        self.calls: Counter[str] = Counter()

    def exists(self, key: str) -> bool:
        self.calls["exists"] += 1
        return super().exists(key)

    def size(self, key: str) -> int | None:
        self.calls["size"] += 1
        return super().size(key)

    def list(self, prefix: str) -> list[str]:
        self.calls["list"] += 1
        return super().list(prefix)

    def get(self, key: str) -> bytes:
        if key.startswith("cache/"):
            self.calls[f"get {key.split('/')[1]} cache"] += 1
        return super().get(key)


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> Store:
    monkeypatch.setenv("FLOWKIT_CLOCK_SKEW_SECONDS", "0")
    store = Store(Counting())
    for i in range(6):
        x = f"{i:0>100}"  # too long to be held inline by its record: a blob (as are [x] * k)
        tasks = [FakeTask({"x": x, "y": [x] * k}, stdout=f"{i}\n") for k in range(4)]
        write_fake_run(store, "MemFlow", {"start": tasks, "end": [FakeTask({"x": i})]})
    return store


def _calls(store: Store) -> Counter[str]:
    backend = store.backend
    assert isinstance(backend, Counting)
    return backend.calls


def test_fsck_probes_no_object(store: Store) -> None:
    _calls(store).clear()
    report = fsck(store)
    assert report.problems == [] and report.blobs == 6 * 4 and report.records > 6 * 10
    assert _calls(store)["exists"] == 0 and _calls(store)["size"] == 0
    assert _calls(store)["list"] == 0


def test_gc_on_a_memory_store_probes_no_object(store: Store) -> None:
    runs = [r.run_id for r in store.records.iter_runs("MemFlow")]
    _calls(store).clear()
    report = collect(store, Policy(keep_last=2, grace=0))
    assert _calls(store)["exists"] == 0 and _calls(store)["size"] == 0
    assert _calls(store)["list"] == 0
    assert report.dropped == {"MemFlow": sorted(runs[2:])}
    assert report.trashed == 4 * 4 and report.freed == report.trashed  # [] is inline
    assert [r.run_id for r in store.records.iter_runs("MemFlow")] == runs[:2]
    for run_id in runs[:2]:
        for task in store.records.list_tasks("MemFlow", run_id, "start"):
            assert int(store.values.load(task.artifacts["x"].digest)) == int(
                store.logs.read(task, "stdout")[0].text
            )
    assert fsck(store).problems == []


def test_gc_reads_the_cache_entries_of_the_flows_that_lose_runs_only(store: Store) -> None:
    def entry(flow: str, run_id: str, key: str) -> None:
        task = store.records.list_tasks(flow, run_id, "start")[0]
        remember(store.backend, flow, run_id, "start", [replace(task, cache_key=key * 32)])

    for key in ("ab", "cd", "ef"):  # KeptFlow's three runs are all kept
        entry("KeptFlow", write_fake_run(store, "KeptFlow", {"start": [FakeTask()]}).run_id, key)
    oldest = list(store.records.iter_runs("MemFlow"))[-1].run_id
    entry("MemFlow", oldest, "01")  # gc deletes it with the run
    _calls(store).clear()
    report = collect(store, Policy(keep_last=3, grace=0))
    assert report.dropped["MemFlow"] and "KeptFlow" not in report.dropped
    assert _calls(store)["get KeptFlow cache"] == 0 and _calls(store)["get MemFlow cache"] == 1
    assert store.index.reuse_keys("MemFlow").lookup("start", "01" * 32) is None
    assert store.index.reuse_keys("KeptFlow").lookup("start", "ab" * 32) is not None
