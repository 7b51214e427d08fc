"""What a foreach's branches receive: the items of one iteration of the split's value, which
itself stays as the step set it."""

from __future__ import annotations

from pathlib import Path

import pytest

import flowkit
from tests.flows.foreach_kinds import WORDS, ForeachKindsFlow
from tests.runtime.test_shapes import Quiet


@pytest.mark.parametrize(
    ("kind", "stored"),
    [
        ("set", set(WORDS)),
        ("dict", {w: len(w) for w in WORDS}),
        ("generator", WORDS),
        ("range", range(len(WORDS))),
    ],
)
def test_the_split_keeps_its_value_and_each_branch_gets_one_item(
    kind: str, stored: object, tmp_path: Path
) -> None:
    run = flowkit.run(ForeachKindsFlow, store=str(tmp_path), progress=Quiet(), kind=kind)
    # a set stays a set, a dict a dict; a generator is consumed, so its items are stored
    assert run["start"].task.data.items == stored
    join = run["join"].task.data
    assert sorted(join.words) == sorted(WORDS)
    if kind != "set":
        assert join.words == WORDS  # a dict's keys, a generator's items, in their order
    frozen = run["start"].task.record.foreach_items
    assert sum(count for _, count in frozen) == len(WORDS)
