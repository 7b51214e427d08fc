"""Rich displays of past runs: the content a person looks for, and nothing loaded that is
not needed (a run with 1,000 tasks and large artifacts opens at once)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

import flowkit
from flowkit.store.values import Values
from tests.flows.fanout import FanoutFlow
from tests.runtime.test_shapes import Quiet

ARRAYS = """
import numpy as np
from flowkit import FlowSpec, step

class ArrayFlow(FlowSpec):
    @step
    def start(self):
        self.small = np.arange(12, dtype="float32").reshape(3, 4)
        self.big = np.zeros(200_000)
        self.note = "hello"
        print("made the arrays")
        self.next(self.end)

    @step
    def end(self):
        pass
"""


def test_task_display_previews_small_values_and_skips_large_ones(tmp_path: Path) -> None:
    pytest.importorskip("numpy")
    flow = tmp_path / "array_flow.py"
    flow.write_text(ARRAYS)
    run = flowkit.run(flow, store=str(tmp_path / "store"), progress=Quiet())
    html = run["start"].task._repr_html_()
    assert (
        'data-name="small"' in html
        and "shape (3, 4), float32: [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, …]" in html
    )
    assert 'data-name="big"' in html and "<i>not loaded (1.5 MB)</i>" in html
    assert "<code>&#x27;hello&#x27;</code>" in html
    assert "stdout (1 lines)" in html and "made the arrays" in html
    assert "numpy.ndarray" in html


@pytest.mark.slow
def test_run_display_of_a_thousand_tasks_loads_no_artifact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = flowkit.run(FanoutFlow, store=str(tmp_path), progress=Quiet(), n=1000, max_workers=2)
    loads: list[str] = []
    real = Values.load

    def load(self: Values, digest: str, **options: Any) -> Any:
        loads.append(digest)
        return real(self, digest, **options)

    monkeypatch.setattr(Values, "load", load)
    fresh = flowkit.Run(run.pathspec, store=str(tmp_path))
    started = time.perf_counter()
    html = fresh._repr_html_()
    took = time.perf_counter() - started
    assert loads == []
    assert took < 2.0, f"rendering took {took:.2f}s"
    assert 'data-step="work" data-phase="done"' in html and "1000 succeeded" in html
    assert html.count('class="flowkit-task"') == 1004  # one timeline bar per task that ran
    step_html = fresh["work"]._repr_html_()
    assert "… and 900 more" in step_html


def test_failed_runs_show_what_failed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWKIT_TEST_FAIL_SPLITS", "1")
    with pytest.raises(flowkit.RunFailed) as info:
        flowkit.run(FanoutFlow, store=str(tmp_path), progress=Quiet(), n=3)
    html = info.value.run._repr_html_()
    assert 'data-step="work" data-phase="failed"' in html and "1 failed, 2 succeeded" in html
    for never in ("join", "scaled", "end"):  # drawn from the recorded graph, though never reached
        assert f'data-step="{never}" data-phase="not run"' in html
    failed = next(t for t in info.value.run["work"] if not t.successful)
    task_html = failed._repr_html_()
    assert "flowkit-exception" in task_html and "split 1 told to fail" in task_html
