"""Admission is one place: a ``--dry-run`` preview decides exactly what the run then does."""

from __future__ import annotations

from pathlib import Path

import pytest

import flowkit
from tests.flows.fanout import FanoutFlow
from tests.runtime.test_shapes import Quiet


def _by_step(decisions: list[dict[str, object]]) -> list[tuple[object, object, object]]:
    return sorted((d["step"], d["action"], d["origin"]) for d in decisions)


@pytest.mark.parametrize("reuse", [False, True])
def test_a_resume_preview_matches_the_resume_it_previews(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reuse: bool
) -> None:
    store = str(tmp_path)
    monkeypatch.setenv("FLOWKIT_TEST_FAIL_SPLITS", "1,3")
    with pytest.raises(flowkit.RunFailed):
        flowkit.run(FanoutFlow, store=store, progress=Quiet(), n=5)
    monkeypatch.delenv("FLOWKIT_TEST_FAIL_SPLITS")

    preview = flowkit.resume(FanoutFlow, store=store, reuse=reuse, dry_run=True)
    resumed = flowkit.resume(FanoutFlow, store=store, reuse=reuse, progress=Quiet())

    assert resumed.data.total == sum(i * 10 for i in range(5))
    # start and the three branches that succeeded are cloned; the rest runs
    assert (preview.count("clone"), preview.count("run")) == (4, 5)
    expected = _by_step(resumed.explanation)
    # A task that will run has no id yet in a preview; everything else must agree.
    assert _by_step(preview.decisions) == expected
    assert [d["reason"] for d in preview.decisions if d["step"] == "work"] == [
        d["reason"] for d in resumed.explanation if d["step"] == "work"
    ]


def test_a_preview_of_a_rerun_with_nothing_changed_reuses_everything(tmp_path: Path) -> None:
    store = str(tmp_path)
    flowkit.run(FanoutFlow, store=store, progress=Quiet(), reuse=True, n=3)
    preview = flowkit.run(FanoutFlow, store=store, reuse=True, dry_run=True, n=3)
    again = flowkit.run(FanoutFlow, store=store, progress=Quiet(), reuse=True, n=3)
    assert preview.count("reuse") == len(preview.decisions) == 7
    assert _by_step(preview.decisions) == _by_step(again.explanation)
