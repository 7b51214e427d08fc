"""``Run.code``: the files of the code package a run ran, read back from the store."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

import flowkit
from flowkit.store import open_store
from flowkit.store.errors import NotFoundError
from flowkit.surfaces.terminal import TerminalView
from tests.runtime.test_shapes import Quiet
from tests.task.code_project import EDITED, write_project
from tests.task.test_code import _define_in_cells


def test_run_code_gives_back_the_files_as_they_were_when_the_run_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    flow = write_project(tmp_path / "proj", "client")
    helper = tmp_path / "proj" / "helper_client.py"
    lazy = tmp_path / "proj" / "lazy_client.py"
    original = {p.name: p.read_bytes() for p in (flow, helper, lazy)}
    run = flowkit.run(flow, store=str(tmp_path / "store"), progress=Quiet())
    write_project(tmp_path / "proj", "client", EDITED)
    code = flowkit.Run(run.pathspec, store=str(tmp_path / "store")).code
    assert code is not None and code.digest == run.record.code_digest
    assert code.files == sorted(original) and code.flow_file == flow.name
    assert code.read_bytes(helper.name) == original[helper.name]
    assert code.flow_source == original[flow.name].decode()
    written = code.extract(tmp_path / "out")
    assert {p.name: p.read_bytes() for p in written} == original
    with pytest.raises(NotFoundError, match=r"has no file 'nope\.py'"):
        code.read("nope.py")


def test_a_notebook_flow_s_code_is_its_cells(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # a notebook in a folder of its own, importing no module there
    flow = _define_in_cells()
    with pytest.raises(flowkit.RunFailed) as info:  # its second item fails, on purpose
        flowkit.run(flow, store=str(tmp_path), progress=TerminalView(io.StringIO(), live=False))
    code = info.value.run.code
    assert code is not None and code.flow_file is None
    assert code.files == ["cells/flowkit-test-cell-7.py", "cells/flowkit-test-cell-8.py"]
    assert "class CellFlow(FlowSpec):" in code.read("cells/flowkit-test-cell-8.py")
    assert code.flow_source.startswith("def score(x):")


def test_a_run_from_before_code_packages_has_no_code(tmp_path: Path) -> None:
    record = open_store(str(tmp_path)).records.create_run("OldFlow")
    assert flowkit.Run(f"OldFlow/{record.run_id}", store=str(tmp_path)).code is None
