"""On a remote store (each call a round trip) values and task records skip the probes a
local store can afford: a new small blob costs one write, a task's record no existence checks."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest

from flowkit.store import MemoryBackend, Store
from flowkit.store.backend import Bytes, ObjectInfo, Reader
from flowkit.store.blobs import blob_key
from flowkit.testing.fake_run import FakeTask, write_fake_run


class Counting(MemoryBackend):
    """A memory backend that says it is remote and counts every call by kind."""

    remote = True

    def __init__(self) -> None:
        super().__init__("counting")
        self.calls: list[tuple[str, str]] = []

    def put(self, key: str, parts: Sequence[Bytes]) -> None:
        self.calls.append(("put", key))
        super().put(key, parts)

    def put_new(self, key: str, data: Bytes) -> bool:
        self.calls.append(("put_new", key))
        return super().put_new(key, data)

    def get(self, key: str) -> bytes:
        self.calls.append(("get", key))
        return super().get(key)

    def open(self, key: str) -> Reader:
        self.calls.append(("open", key))
        return super().open(key)

    def exists(self, key: str) -> bool:
        self.calls.append(("exists", key))
        return super().exists(key)

    def size(self, key: str) -> int | None:
        self.calls.append(("size", key))
        return super().size(key)

    def scan(self, prefix: str) -> Iterator[ObjectInfo]:
        self.calls.append(("scan", prefix))
        return super().scan(prefix)

    def kinds(self) -> list[str]:
        kinds = [kind for kind, _ in self.calls]
        self.calls.clear()
        return kinds


@pytest.fixture
def backend() -> Counting:
    return Counting()


def test_a_new_small_value_is_one_write(backend: Counting) -> None:
    store = Store(backend)
    store.values.put({"a": 1})
    assert backend.kinds() == ["put_new"]


def test_a_stored_small_value_is_checked_not_written(backend: Counting) -> None:
    Store(backend).values.put(list(range(100)))
    backend.calls.clear()
    Store(backend).values.put(list(range(100)))  # a fresh store: nothing known in memory
    assert backend.kinds() == ["put_new", "get"]


def test_a_damaged_small_value_is_healed(backend: Counting) -> None:
    ref = Store(backend).values.put("x" * 100)
    key = blob_key(ref.digest)
    backend.put(key, [backend.get(key)[:-3]])
    backend.calls.clear()
    assert Store(backend).values.put("x" * 100) == ref
    assert backend.kinds() == ["put_new", "get", "put"]
    assert Store(backend).values.load(ref.digest) == "x" * 100


def test_a_large_value_is_probed_before_it_is_uploaded(backend: Counting) -> None:
    big = bytes(range(256)) * 8192  # 2 MiB, above the write-first limit
    Store(backend).values.put(big)
    assert backend.kinds()[0] == "size"
    Store(backend).values.put(big)
    kinds = backend.kinds()
    assert kinds[0] == "size" and "put" not in kinds and "put_new" not in kinds


def test_a_task_passing_artifacts_on_asks_nothing_about_them(backend: Counting) -> None:
    store = Store(backend)
    run = write_fake_run(store, "F", {"start": [FakeTask({"x": [1, 2, 3], "y": "kept"})]})
    task_store = Store(backend)  # a task process: knows only what it reads
    (record,) = task_store.records.list_tasks("F", run.run_id, "start")
    source = task_store.values.artifact_source(record)
    started = task_store.records.start_task("F", run.run_id, "next")
    backend.calls.clear()
    refs = {name: source.ref(name) for name in source.names()}
    task_store.records.finish_task(started.finished("succeeded", artifacts=refs))
    assert backend.kinds() == ["put_new"]  # the final record, and no existence checks
