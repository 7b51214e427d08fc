"""Freezing a foreach's items once, storing them in chunks, and a branch loading only its own."""

from __future__ import annotations

from typing import Any

import pytest

from flowkit import FlowSpec, step
from flowkit.errors import FlowDefinitionError
from flowkit.plan.tasks import Branch, Outcome
from flowkit.store import Store, TaskRecord
from flowkit.store.backend import Backend
from flowkit.store.memory import MemoryBackend
from flowkit.store.values import Values
from flowkit.task.execute import call_step
from flowkit.task.foreach import (
    CHUNK_BYTES,
    CHUNK_ITEMS,
    ChunkCache,
    ForeachFrames,
    freeze,
    store_items,
)
from flowkit.task.spec import CodeRef, StepContract, TaskSpec

WHERE = ("flow.py", 12)


class CountingValues(Values):
    """Values that remember which blobs were loaded."""

    def __init__(self, backend: Backend) -> None:
        super().__init__(backend)
        self.loaded: list[str] = []

    def load(self, digest: str, *, owner: str | None = None) -> Any:
        self.loaded.append(digest)
        return super().load(digest, owner=owner)


class CountingStore(Store):
    """A store that remembers which blobs were loaded."""

    def __init__(self) -> None:
        super().__init__(MemoryBackend())
        self.values = CountingValues(self.backend)
        self.loaded = self.values.loaded


class OneShot:
    """An iterable that counts how often it is iterated."""

    def __init__(self, items: list[int]) -> None:
        self.items, self.iterations = items, 0

    def __iter__(self) -> Any:
        self.iterations += 1
        return iter(self.items)


def test_freeze_iterates_once_as_list_would() -> None:
    value = OneShot([3, 1, 2])
    assert freeze(value, "xs", limit=10, step="start", where=WHERE) == [3, 1, 2]
    assert value.iterations == 1
    assert freeze({"b": 1, "a": 2}, "xs", limit=10, step="start", where=WHERE) == ["b", "a"]
    words = {"alpha", "beta", "gamma"}
    assert freeze(words, "xs", limit=10, step="start", where=WHERE) == list(words)
    assert freeze((i for i in range(3)), "xs", limit=10, step="start", where=WHERE) == [0, 1, 2]


def test_freeze_stops_an_endless_generator_at_the_limit() -> None:
    def endless() -> Any:
        n = 0
        while True:
            yield n
            n += 1

    with pytest.raises(FlowDefinitionError) as info:
        freeze(endless(), "xs", limit=100, step="start", where=WHERE)
    assert info.value.render().startswith("flow.py:12: step 'start': foreach='xs' has more than")


def test_items_are_stored_in_small_chunks_and_a_big_item_alone() -> None:
    store = CountingStore()
    big = b"x" * (200 << 10)
    items: list[Any] = [*range(1000), big, "after"]
    chunks = store_items(store, items, "xs", step="start")
    counts = [n for _, n in chunks]
    assert sum(counts) == len(items) and max(counts) <= CHUNK_ITEMS
    assert counts[-2:] == [1, 1]  # the big item, then the next chunk starts
    refs = Outcome(("each",), len(items), chunks).item_refs()
    assert [store.values.load(d)[slot] for d, slot in refs[995:]] == [
        *range(995, 1000),
        big,
        "after",
    ]


def test_a_branch_loads_only_its_own_chunk_and_only_when_read() -> None:
    store = CountingStore()
    chunks = store_items(store, [f"item-{i}" for i in range(1000)], "xs", step="start")
    refs = Outcome(("each",), 1000, chunks).item_refs()
    path = [Branch("start", "t1", 700, 1000, "foreach", refs[700])]
    frames = ForeachFrames(store, "F", "r1", path)
    assert store.loaded == []
    assert frames[-1].value == "item-700" and frames[0].index == 700
    assert store.loaded == [refs[700][0]]


def test_a_branch_recorded_without_frozen_items_says_to_rerun_its_split() -> None:
    frames = ForeachFrames(
        Store(MemoryBackend()), "F", "r1", [Branch("start", "t1", 0, 2, "foreach")]
    )
    with pytest.raises(FlowDefinitionError, match="resume from step 'start'"):
        frames[0]


class Counted:
    """An item that counts how often it is pickled."""

    pickled = 0

    def __init__(self, n: int, payload: bytes = b"") -> None:
        self.n, self.payload = n, payload

    def __reduce__(self) -> Any:
        Counted.pickled += 1
        return Counted, (self.n, self.payload)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Counted) and (other.n, other.payload) == (self.n, self.payload)

    def __hash__(self) -> int:
        return self.n


def test_a_big_item_is_pickled_once_and_its_chunk_loads_as_a_list() -> None:
    store = CountingStore()
    Counted.pickled = 0
    big = b"x" * (CHUNK_BYTES + 1)
    items: list[Any] = [Counted(i, big) for i in range(3)]
    chunks = store_items(store, items, "xs", step="start")
    assert Counted.pickled == len(items)  # measured, and stored as measured
    assert [n for _, n in chunks] == [1, 1, 1]
    assert [store.values.load(d) for d, _ in chunks] == [[item] for item in items]


def test_small_items_share_chunks_of_at_most_chunk_items() -> None:
    store = CountingStore()
    items: list[Any] = [Counted(i) for i in range(600)]
    chunks = store_items(store, items, "xs", step="start")
    assert [n for _, n in chunks] == [256, 256, 88]
    assert [x for d, _ in chunks for x in store.values.load(d)] == items


def test_a_chunk_keeps_what_its_items_hold_out_of_band() -> None:
    np = pytest.importorskip("numpy")
    store = Store(MemoryBackend())
    frozen = np.arange(5)
    frozen.flags.writeable = False
    items = [np.arange(100_000.0), "small", frozen, b"b" * 100_000]
    loaded = [
        x for d, _ in store_items(store, items, "xs", step="start") for x in store.values.load(d)
    ]
    assert (loaded[0] == items[0]).all() and loaded[0].flags.writeable
    assert loaded[1:2] == ["small"] and loaded[3] == items[3]
    assert (loaded[2] == frozen).all() and not loaded[2].flags.writeable


class JoinFlow(FlowSpec):
    @step
    def start(self) -> None:
        self.xs = list(range(3))
        self.next(self.each, foreach="xs")

    @step
    def each(self) -> None:
        self.next(self.join)

    @step
    def join(self, inputs: Any) -> None:
        self.seen = [i.input for i in inputs]
        self.next(self.end)

    @step
    def end(self) -> None:
        pass


def test_a_join_loads_each_chunk_once_for_all_its_inputs() -> None:
    store = CountingStore()
    n = 1000
    chunks = store_items(store, [f"item-{i}" for i in range(n)], "xs", step="start")
    refs = Outcome(("each",), n, chunks).item_refs()
    parents = [
        TaskRecord(
            "JoinFlow",
            "r1",
            "each",
            f"b{i}",
            0,
            "succeeded",
            0.0,
            path=(tuple(Branch("start", "t1", i, n, "foreach", refs[i]).to_json()),),
        )
        for i in range(n)
    ]
    spec = TaskSpec(
        store=store.url,
        flow="JoinFlow",
        run_id="r1",
        step="join",
        task_id="t2",
        attempt=0,
        code=CodeRef("module", __name__, "JoinFlow"),
        contract=StepContract("linear", ("end",), True),
    )
    flow = call_step(spec, store, JoinFlow, parents)
    assert flow.seen == [f"item-{i}" for i in range(n)]
    assert sorted(store.loaded) == sorted(d for d, _ in chunks)  # each chunk once


def test_a_chunk_cache_keeps_the_most_recently_used_chunks() -> None:
    store = CountingStore()
    digests = [store.values.put([i]).digest for i in range(4)]
    cache = ChunkCache(store, size=2)
    for d in [digests[0], digests[1], digests[0], digests[2], digests[0], digests[1]]:
        cache.get(d, "owner")
    assert store.loaded == [digests[0], digests[1], digests[2], digests[1]]
