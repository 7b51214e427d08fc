"""A resumed run keeps the content its origin stored for ``IncludeFile`` parameters: the
files need not be given again, nor still exist."""

from __future__ import annotations

from pathlib import Path

import pytest

import flowkit
from tests.flows.include_file import IncludeFileFlow
from tests.runtime.test_shapes import Quiet


def test_resume_reuses_the_stored_content_of_included_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("alpha beta")
    (tmp_path / "extra.txt").write_text("gamma")
    store = str(tmp_path / "store")
    with pytest.raises(flowkit.RunFailed) as info:
        flowkit.run(IncludeFileFlow, store=store, progress=Quiet(), notes="notes.txt")
    (tmp_path / "notes.txt").unlink()
    (tmp_path / "extra.txt").unlink()
    monkeypatch.setenv("FLOWKIT_TEST_FIXED", "1")
    resumed = flowkit.resume(IncludeFileFlow, store=store, progress=Quiet())
    assert resumed.successful and resumed.origin_run_id == info.value.run.id
    task = resumed["count"].task
    assert (task.data.total, task.data.seen) == (3, "alpha beta|gamma")
    assert [d["step"] for d in resumed.explanation if d["action"] == "clone"] == ["start"]


def test_a_file_given_again_on_resume_replaces_the_stored_content(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("alpha beta")
    (tmp_path / "extra.txt").write_text("gamma")
    store = str(tmp_path / "store")
    with pytest.raises(flowkit.RunFailed):
        flowkit.run(IncludeFileFlow, store=store, progress=Quiet(), notes="notes.txt")
    (tmp_path / "extra.txt").unlink()
    (tmp_path / "new.txt").write_text("one two three four")
    monkeypatch.setenv("FLOWKIT_TEST_FIXED", "1")
    resumed = flowkit.resume(IncludeFileFlow, store=store, progress=Quiet(), notes="new.txt")
    assert resumed["count"].task.data.seen == "one two three four|gamma"
