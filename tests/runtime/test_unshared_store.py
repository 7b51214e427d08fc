"""A run refuses a store its tasks' processes cannot open (``memory://``), before it starts."""

from __future__ import annotations

import pytest

import flowkit
from flowkit.store import MemoryBackend, Store, UnsharedStoreError, open_store
from tests.flows.linear import LinearFlow
from tests.runtime.test_shapes import Quiet


@pytest.mark.parametrize("how", ["url", "store"])
def test_a_run_on_a_memory_store_is_refused_before_it_is_created(how: str) -> None:
    store = open_store("memory://refused") if how == "url" else Store(MemoryBackend())
    where = "memory://refused" if how == "url" else store
    with pytest.raises(UnsharedStoreError) as info:
        flowkit.run(LinearFlow, store=where, progress=Quiet())
    text = info.value.render()
    assert f"the store {store.url} lives in this process's memory" in text
    assert "run's tasks run in other processes, which cannot see it" in text
    assert "store='path/to/store'" in text  # what to do instead
    assert store.records.list_flows() == []  # no run, no code package: nothing was written
    assert store.backend.list("") == []


def test_a_dry_run_on_a_memory_store_still_says_what_would_run() -> None:
    preview = flowkit.run(LinearFlow, store="memory://preview", dry_run=True)
    assert [d["step"] for d in preview.decisions] == ["start", "a", "b", "end"]
