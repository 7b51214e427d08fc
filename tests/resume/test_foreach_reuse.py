"""``run --reuse`` reuses a foreach branch only for the very item it ran on: a split that ran
again and froze its items in another order must not hand a reused branch's item to a second
branch."""

from __future__ import annotations

from pathlib import Path

import pytest

import flowkit
from tests.flows.foreach_reorder import WORDS, ForeachReorderFlow
from tests.runtime.test_shapes import Quiet


def test_reused_branches_match_the_items_the_split_froze_this_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = str(tmp_path)
    monkeypatch.setenv("FLOWKIT_TEST_FAIL_WORD", "gamma")
    with pytest.raises(flowkit.RunFailed):
        flowkit.run(ForeachReorderFlow, store=store, progress=Quiet(), reuse=True)
    monkeypatch.delenv("FLOWKIT_TEST_FAIL_WORD")
    monkeypatch.setenv("FLOWKIT_TEST_REVERSE", "1")
    run = flowkit.run(ForeachReorderFlow, store=store, progress=Quiet(), reuse=True)
    words = run["join"].task.data.words
    assert words == WORDS[::-1]
    again = flowkit.run(ForeachReorderFlow, store=store, progress=Quiet(), reuse=True)
    reused = [d["step"] for d in again.explanation if d["action"] == "reuse"]
    assert reused.count("each") == len(WORDS)  # same items, same order: reused, as before
