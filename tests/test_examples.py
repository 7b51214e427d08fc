"""The examples in examples/ pass lint and show as a person would read them."""

from __future__ import annotations

from pathlib import Path

import pytest

import flowkit
from flowkit.authoring.loader import load_flow_file
from tests.conftest import ROOT, run_python

EXAMPLES = sorted((ROOT / "examples").glob("*.py"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_passes_lint(path: Path) -> None:
    graph = flowkit.check(load_flow_file(path))
    assert graph.steps["start"].doc or graph.doc


def test_main_example_shape_and_cli() -> None:
    graph = flowkit.check(load_flow_file(ROOT / "examples" / "ml_pipeline.py"))
    assert [s.name for s in graph] == [
        "start",
        "validate",
        "features",
        "train",
        "pick",
        "evaluate",
        "deploy",
        "hold",
        "end",
    ]
    assert graph["features"].foreach == "alphas" and graph["pick"].takes_inputs
    assert dict(graph["evaluate"].cases) == {"deploy": "deploy", "hold": "hold"}
    shown = run_python(ROOT / "examples" / "ml_pipeline.py", "show")
    assert shown.returncode == 0 and "foreach item of 'alphas' -> train" in shown.stdout
