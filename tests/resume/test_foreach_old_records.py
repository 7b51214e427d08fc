"""Runs recorded by a flowkit that did not freeze foreach items (the split's record has
``foreach_count`` but no ``foreach_items``, its branches' paths no item): resume and
``run --reuse`` run such a split again, so no branch is ever without its item."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

import flowkit
from flowkit.store.step_index import read_index
from tests.flows.foreach_kinds import WORDS, ForeachKindsFlow
from tests.runtime.test_shapes import Quiet

REASON = "its foreach items were not frozen (recorded by an older flowkit)"


def _old(record: dict[str, Any]) -> dict[str, Any]:
    """A task record as the older flowkit wrote it."""
    record.pop("foreach_items", None)
    record["path"] = [branch[:5] for branch in record.get("path", [])]
    return record


def _make_old(store: Path, flow: str = "ForeachKindsFlow") -> int:
    """Rewrite every task record (and step index) of ``flow`` as the older flowkit wrote it,
    and forget the branches' cache keys (the older flowkit's did not name their item)."""
    rewritten = 0
    for file in (store / "runs" / flow).rglob("*.json"):
        if file.parent.name == "index":  # compressed: an older flowkit wrote it as JSON
            data = {"tasks": [_old(asdict(t)) for t in read_index(file.read_bytes(), str(file))]}
            file.chmod(0o600)
            file.write_text(json.dumps(data))
            rewritten += 1
            continue
        data = json.loads(file.read_text())
        if "tasks" in data:
            data["tasks"] = [_old(t) for t in data["tasks"]]
        elif "task_id" in data:  # a task record
            data = _old(data)
        else:
            continue
        file.chmod(0o600)
        file.write_text(json.dumps(data))
        rewritten += 1
    (store / "cache" / flow / "steps" / "each.json").unlink()
    return rewritten


def _reasons(run: flowkit.Run) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for d in run.explanation:
        found.setdefault(d["step"], set()).add(f"{d['action']}: {d['reason']}")
    return found


def test_resume_runs_again_a_split_that_did_not_freeze_its_items(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "store"
    monkeypatch.setenv("FLOWKIT_TEST_FAIL_WORD", "gamma")
    with pytest.raises(flowkit.RunFailed):
        flowkit.run(ForeachKindsFlow, store=str(store), progress=Quiet(), kind="dict")
    monkeypatch.delenv("FLOWKIT_TEST_FAIL_WORD")
    assert _make_old(store) > 0
    origin = flowkit.Flow("ForeachKindsFlow", store=str(store)).latest_run
    assert origin["start"].task.record.foreach_items == ()
    assert origin["start"].task.record.foreach_count == len(WORDS)

    resumed = flowkit.resume(ForeachKindsFlow, store=str(store), progress=Quiet())
    assert resumed.successful
    assert _reasons(resumed)["start"] == {f"run: {REASON}"}
    assert _reasons(resumed)["each"] == {"run: its input from step 'start' ran again"}
    join = resumed["join"].task.data
    assert join.words == WORDS and join.inputs_seen == WORDS
    assert join.positions == list(range(len(WORDS)))
    assert sum(n for _, n in resumed["start"].task.record.foreach_items) == len(WORDS)


def test_run_reuse_runs_again_a_split_that_did_not_freeze_its_items(tmp_path: Path) -> None:
    store = tmp_path / "store"
    flowkit.run(ForeachKindsFlow, store=str(store), progress=Quiet(), kind="range", reuse=True)
    _make_old(store)

    again = flowkit.run(
        ForeachKindsFlow, store=str(store), progress=Quiet(), kind="range", reuse=True
    )
    assert _reasons(again)["start"] == {f"run: {REASON}"}
    assert again["join"].task.data.words == WORDS
    assert again["join"].task.data.inputs_seen == list(range(len(WORDS)))
    preview = flowkit.run(
        ForeachKindsFlow, store=str(store), kind="range", reuse=True, dry_run=True
    )
    starts = [d for d in preview.decisions if d["step"] == "start"]
    assert starts[0]["action"] == "reuse"  # the split that ran again froze its items
