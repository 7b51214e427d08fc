"""Freezing a foreach's items once, storing them in chunks, and a branch loading only its own."""

from __future__ import annotations

from typing import Any

import pytest

from flowkit.errors import FlowDefinitionError
from flowkit.runtime.plan import Branch, Outcome
from flowkit.store import Store
from flowkit.store.memory import MemoryBackend
from flowkit.task.foreach import CHUNK_ITEMS, ForeachFrames, freeze, store_items

WHERE = ("flow.py", 12)


class CountingStore(Store):
    """A store that remembers which blobs were loaded."""

    def __init__(self) -> None:
        super().__init__(MemoryBackend())
        self.loaded: list[str] = []

    def load_value(self, digest: str, *, owner: str | None = None) -> Any:
        self.loaded.append(digest)
        return super().load_value(digest, owner=owner)


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
    assert [store.load_value(d)[slot] for d, slot in refs[995:]] == [
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
