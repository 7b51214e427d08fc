"""The examples in examples/ pass lint and show as a person would read them."""

from __future__ import annotations

from pathlib import Path

import pytest

import flowkit
from flowkit.authoring.loader import load_flow_file
from tests.conftest import ROOT, run_python
from tests.runtime.test_shapes import Quiet

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


def test_main_example_runs_and_deploys_only_above_the_threshold(tmp_path: Path) -> None:
    flow = load_flow_file(ROOT / "examples" / "ml_pipeline.py")
    run = flowkit.run(flow, store=str(tmp_path), quiet=True, progress=Quiet())
    assert run.successful and [t.data.model["alpha"] for t in run["train"]] == [
        0.01,
        0.1,
        1.0,
        10.0,
        100.0,
    ]
    assert run.data.published["alpha"] == run["pick"].task.data.model["alpha"]
    assert run.data.published["r2"] > 0.95 and "deployed: alpha=" in run["end"].task.stdout
    held = flowkit.run(flow, store=str(tmp_path), quiet=True, progress=Quiet(), threshold=0.9999)
    assert held.data.published is None and [s.id for s in held if s.id in ("deploy", "hold")] == [
        "hold"
    ]
    assert "held back: test R^2" in held["end"].task.stdout
