"""``--run-id-file`` / ``--runner-attribute-file``: checked before a run is created, written
whole once it exists."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flowkit.errors import FlowkitError
from flowkit.runtime.run_id_file import RunIdFiles


def test_both_files_are_written_whole_and_leave_no_temporary(tmp_path: Path) -> None:
    files = RunIdFiles(str(tmp_path / "id"), str(tmp_path / "run.json"))
    files.check()
    files.write("F", "01abc", "/stores/here")
    assert (tmp_path / "id").read_text() == "01abc"
    said = json.loads((tmp_path / "run.json").read_text())
    assert said == {"run_id": "01abc", "flow_name": "F", "store": "/stores/here"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["id", "run.json"]


def test_an_existing_file_is_replaced(tmp_path: Path) -> None:
    (tmp_path / "id").write_text("an older run's id, longer than this one")
    RunIdFiles(str(tmp_path / "id")).write("F", "new", "s")
    assert (tmp_path / "id").read_text() == "new"


@pytest.mark.parametrize(
    ("where", "message", "hint"),
    [
        ("missing/id", "the folder {tmp}/missing does not exist", "create it first"),
        (".", "is a folder; the run id is written to a file", "give a file's path"),
    ],
)
def test_a_path_that_cannot_be_written_is_refused(
    tmp_path: Path, where: str, message: str, hint: str
) -> None:
    with pytest.raises(FlowkitError) as info:
        RunIdFiles(str(tmp_path / where)).check()
    assert info.value.message.startswith("--run-id-file ")
    assert message.format(tmp=tmp_path) in info.value.message and hint in info.value.hint


def test_nothing_to_write_checks_nothing() -> None:
    RunIdFiles().check()
    RunIdFiles().write("F", "r", "s")
