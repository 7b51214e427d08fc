"""Resume: only what failed (or depends on it) runs again; everything else is cloned."""

from __future__ import annotations

from pathlib import Path

import pytest

import flowkit
from flowkit.store import open_store
from tests.flows.fanout import FanoutFlow
from tests.flows.long_linear import LongLinearFlow
from tests.runtime.test_shapes import Quiet


def _actions(run: flowkit.Run) -> dict[str, int]:
    counts: dict[str, int] = {}
    for d in run.explanation:
        counts[d["action"]] = counts.get(d["action"], 0) + 1
    return counts


def test_twenty_steps_failing_at_19_resume_runs_two_and_clones_18(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWKIT_TEST_FAIL_AT", "s19")
    with pytest.raises(flowkit.RunFailed) as info:
        flowkit.run(LongLinearFlow, store=str(tmp_path), progress=Quiet())
    origin = info.value.run
    monkeypatch.delenv("FLOWKIT_TEST_FAIL_AT")
    resumed = flowkit.resume(LongLinearFlow, store=str(tmp_path), progress=Quiet())
    assert resumed.successful and resumed.origin_run_id == origin.id
    assert _actions(resumed) == {"clone": 18, "run": 2}
    ran = [d["step"] for d in resumed.explanation if d["action"] == "run"]
    assert ran == ["s19", "end"]
    why = {d["step"]: d["reason"] for d in resumed.explanation}
    assert why["s19"] == "it failed in the origin run: RuntimeError: told to fail at s19"
    assert why["end"] == "its input from step 's19' ran again"
    assert resumed.data.trail == ["start", *[f"s{i:02d}" for i in range(2, 20)], "end"]
    assert flowkit.Flow("LongLinearFlow", store=str(tmp_path)).latest_run.id == resumed.id
    s05 = resumed["s05"].task
    assert s05.origin_pathspec == f"LongLinearFlow/{origin.id}/s05/{s05.id}"
    assert s05.data.trail[-1] == "s05"


def test_resume_from_a_named_step_reruns_it_and_what_follows(tmp_path: Path) -> None:
    origin = flowkit.run(LongLinearFlow, store=str(tmp_path), progress=Quiet())
    resumed = flowkit.resume(
        LongLinearFlow, "s17", origin_run_id=origin.id, store=str(tmp_path), progress=Quiet()
    )
    assert [d["step"] for d in resumed.explanation if d["action"] == "run"] == [
        "s17",
        "s18",
        "s19",
        "end",
    ]
    assert _actions(resumed) == {"clone": 16, "run": 4}
    again = flowkit.resume(LongLinearFlow, store=str(tmp_path), progress=Quiet())
    assert again.origin_run_id == resumed.id  # the default origin is the latest, resumed runs too
    assert _actions(again) == {"clone": 20}


@pytest.mark.slow
def test_a_thousand_splits_with_three_failures_reruns_exactly_those(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWKIT_TEST_FAIL_SPLITS", "7,500,999")
    with pytest.raises(flowkit.RunFailed):
        flowkit.run(FanoutFlow, store=str(tmp_path), progress=Quiet(), max_workers=2, n=1000)
    monkeypatch.delenv("FLOWKIT_TEST_FAIL_SPLITS")
    resumed = flowkit.resume(FanoutFlow, store=str(tmp_path), progress=Quiet(), max_workers=2)
    ran = [(d["step"]) for d in resumed.explanation if d["action"] == "run"]
    assert sorted(ran) == sorted(["work", "work", "work", "join", "scaled", "end"])
    rerun_indices = sorted(t.index for t in resumed["work"] if t.origin_pathspec is None)
    assert rerun_indices == [7, 500, 999]
    assert resumed["join"].task.data.total == sum(i * 10 for i in range(1000))


def test_a_dry_run_explains_without_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWKIT_TEST_FAIL_SPLITS", "3")
    with pytest.raises(flowkit.RunFailed):
        flowkit.run(FanoutFlow, store=str(tmp_path), progress=Quiet(), n=6)
    store = open_store(str(tmp_path))
    runs_before = store.records.list_runs("FanoutFlow")
    preview = flowkit.resume(FanoutFlow, store=str(tmp_path), dry_run=True)
    assert store.records.list_runs("FanoutFlow") == runs_before
    assert (preview.count("clone"), preview.count("run")) == (6, 4)
    text = str(preview)
    assert "work: 5 cloned, 1 run" in text
    assert "run: it failed in the origin run: RuntimeError: split 3 told to fail" in text
    assert "join: 1 run" in text and "run: its input from step 'work' runs again" in text
