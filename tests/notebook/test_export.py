"""``flowkit notebook PATHSPEC``: the notebook it writes opens the run, whoever started it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

import flowkit
from flowkit.notebook.export import export_notebook
from tests.conftest import ROOT
from tests.flows.linear import LinearFlow
from tests.runtime.test_shapes import Quiet


@pytest.mark.slow
def test_the_notebook_opens_a_colleagues_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = str(tmp_path / "store")
    monkeypatch.setenv("FLOWKIT_USER", "colleague")
    run = flowkit.run(LinearFlow, store=store, progress=Quiet())
    path = export_notebook(run.pathspec, tmp_path / "run.ipynb", store=store)
    opening = nbformat.read(path, as_version=4).cells[1].source
    code = f"{opening}\nprint(run.pathspec, run['end'].task.data.total)"
    env = {**os.environ, "FLOWKIT_USER": "me", "PYTHONPATH": str(ROOT)}
    ran = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == f"{run.pathspec} 6"
