"""What a task stores: a loaded artifact it only read is passed on by reference, a change
made in place to one it loaded is stored."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import flowkit
from flowkit.store import open_store
from tests.flows.arrays import COUNT, ArraysFlow
from tests.runtime.test_shapes import Quiet


def test_a_loaded_array_only_read_is_named_as_loaded_and_one_changed_in_place_is_stored(
    tmp_path: Path,
) -> None:
    run = flowkit.run(ArraysFlow, store=str(tmp_path), progress=Quiet())
    store = open_store(str(tmp_path))
    (start,) = store.records.list_tasks("ArraysFlow", run.id, "start")
    (use,) = store.records.list_tasks("ArraysFlow", run.id, "use")
    assert use.artifacts["read_only"] == start.artifacts["read_only"]
    assert use.artifacts["changed"].digest != start.artifacts["changed"].digest
    assert use.artifacts["listed"].digest != start.artifacts["listed"].digest
    changed = store.values.load(use.artifacts["changed"].digest)
    original = np.random.default_rng(1).random(COUNT)
    assert changed[COUNT // 2] == -1.0
    assert np.array_equal(np.delete(changed, COUNT // 2), np.delete(original, COUNT // 2))
    assert store.values.load_artifact(use.artifacts["listed"]) == [1, 2, 3]
    assert run.data.total == float(np.random.default_rng(0).random(COUNT).sum())
