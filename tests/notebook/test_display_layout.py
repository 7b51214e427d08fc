"""A task's display as a person sees it in JupyterLab: previews stay on screen next to a wide
DataFrame, and a stored matplotlib Figure shows once, as its preview, not again as a stray
plot under the cell."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

import flowkit
from tests.browser import chromium
from tests.conftest import ROOT
from tests.notebook.kernel import execute
from tests.runtime.test_shapes import Quiet

#: Where the screenshots go, for a reviewer to look at.
SHOTS = ROOT / "test-outputs" / "notebook"

WIDE = """
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from flowkit import FlowSpec, step

class WideFlow(FlowSpec):
    @step
    def start(self):
        print("fitting 30 features")
        self.wide = pd.DataFrame({f"feature_{i:02d}": np.arange(5) * i for i in range(30)})
        self.curve, ax = plt.subplots(figsize=(8, 3))
        ax.plot(np.sin(np.linspace(0, 20, 500)))
        self.alpha = 0.1
        self.best_params = {"max_depth": 4, "n_estimators": 300, "learning_rate": 0.05}
        self.run_label = "grid-search-" + "x" * 120
        self.scores = np.linspace(0, 1, 8)
        self.next(self.end)

    @step
    def end(self):
        pass
"""

#: The rules of JupyterLab 4 (rendermime and output area CSS) that decide where an HTML
#: output's tables and cells go: cells right-aligned, tables centred with a fixed layout,
#: an output area that scrolls beside its 64 px prompt.
JUPYTERLAB_CSS = """
body { margin: 0; font-family: sans-serif; }
.jp-OutputArea-child { display: flex; flex-direction: row; }
.jp-OutputPrompt { flex: 0 0 64px; }
.jp-OutputArea-output { flex-grow: 1; flex-shrink: 1; height: auto; overflow: auto; }
.jp-RenderedHTMLCommon { padding-right: 20px; font-size: 14px; line-height: 1.28; }
.jp-RenderedHTMLCommon table {
  border-collapse: collapse; border-spacing: 0; border: none; font-size: 12px;
  table-layout: fixed; margin-left: auto; margin-bottom: 1em; margin-right: auto;
}
.jp-RenderedHTMLCommon thead { border-bottom: 1px solid #bdbdbd; vertical-align: bottom; }
.jp-RenderedHTMLCommon td, .jp-RenderedHTMLCommon th, .jp-RenderedHTMLCommon tr {
  vertical-align: middle; padding: 0.5em; line-height: normal; white-space: normal;
  max-width: none; border: none; text-align: right;
}
.jp-RenderedHTMLCommon th { font-weight: bold; }
.jp-RenderedHTMLCommon tbody tr:nth-child(odd) { background: #fff; }
.jp-RenderedHTMLCommon tbody tr:nth-child(even) { background: #f5f5f5; }
.jp-RenderedHTMLCommon img { max-width: 100%; height: auto; }
.jp-RenderedHTMLCommon pre { white-space: pre; }
"""


def jupyterlab_page(html: str) -> str:
    return (
        f"<!doctype html><html><head><style>{JUPYTERLAB_CSS}</style></head><body>"
        '<div class="jp-OutputArea-child"><div class="jp-OutputPrompt">[3]:</div>'
        f'<div class="jp-OutputArea-output jp-RenderedHTMLCommon">{html}</div></div></body></html>'
    )


@contextmanager
def in_jupyterlab(html: str, shot: str) -> Iterator[Any]:
    """A 1000 px browser page showing ``html`` as a JupyterLab output, screenshot into
    test-outputs/notebook/SHOT.png."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1000, "height": 800})
        page.set_content(jupyterlab_page(html))
        page.screenshot(path=str(SHOTS / f"{shot}.png"), full_page=True)
        yield page


@pytest.mark.slow
def test_previews_stay_on_screen_next_to_a_wide_dataframe(tmp_path: Path) -> None:
    pytest.importorskip("pandas")
    pytest.importorskip("matplotlib")
    flow = tmp_path / "wide_flow.py"
    flow.write_text(WIDE)
    run = flowkit.run(flow, store=str(tmp_path / "store"), progress=Quiet())
    html = run["start"].task._repr_html_()
    assert html.count('class="flowkit-preview"') == 6

    with in_jupyterlab(html, "task-wide-dataframe") as page:
        boxes = page.eval_on_selector_all(
            ".flowkit-preview",
            "els => els.map(e => [e.closest('tr').dataset.name, e.getBoundingClientRect().right])",
        )
        aligned = page.eval_on_selector_all(
            "tr.flowkit-artifact > td:nth-child(-n+2), .flowkit-artifacts > tbody > tr > th",
            "els => [...new Set(els.map(e => getComputedStyle(e).textAlign))]",
        )
        wide = page.eval_on_selector(
            'tr[data-name="wide"] .flowkit-preview', "e => [e.scrollWidth, e.clientWidth]"
        )
        page_width = page.evaluate("document.documentElement.scrollWidth")
    assert {name for name, _ in boxes} == {
        "alpha",
        "best_params",
        "curve",
        "run_label",
        "scores",
        "wide",
    }
    off_screen = [(name, right) for name, right in boxes if right > 1000]
    assert off_screen == [], f"previews past the 1000 px viewport: {off_screen}"
    assert aligned == ["left"]
    assert wide[0] > wide[1], "the wide DataFrame scrolls inside its own box"
    assert page_width <= 1000


FIGURE_FLOW = """
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
from flowkit import FlowSpec, step

class PlotFlow(FlowSpec):
    @step
    def start(self):
        fig, ax = plt.subplots(figsize=(4, 3))
        ax.plot([1, 3, 2, 4])
        self.fig = fig
        self.next(self.end)

    @step
    def end(self):
        pass
"""


@pytest.mark.kernel
@pytest.mark.slow
def test_a_stored_figure_shows_once_as_its_preview(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    flow = tmp_path / "plot_flow.py"
    flow.write_text(FIGURE_FLOW)
    store = str(tmp_path / "store")
    run = flowkit.run(flow, store=store, progress=Quiet())
    pathspec = run["start"].task.pathspec

    nb = execute([f"import flowkit\nflowkit.Task({pathspec!r}, store={store!r})"])
    outputs = nb.cells[-1].outputs
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    html = "".join(o.get("data", {}).get("text/html", "") for o in outputs)
    assert images == [], "the figure was drawn again under the task's table"
    assert html.count("<img") == 1 and 'class="flowkit-figure"' in html
    assert 'data-name="fig"' in html and "matplotlib.figure.Figure" in html


FANOUT_FLOW = """
from flowkit import FlowSpec, Parameter, step

class GridFlow(FlowSpec):
    alpha = Parameter("alpha", default=0.5)

    @step
    def start(self):
        self.grid = [1, 2, 3]
        self.next(self.train, foreach="grid")

    @step
    def train(self):
        self.score = self.input * self.alpha
        self.next(self.join)

    @step
    def join(self, inputs):
        self.best = max(i.score for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass
"""


@pytest.mark.slow
def test_a_runs_tables_keep_left_in_jupyterlab(tmp_path: Path) -> None:
    """JupyterLab right-aligns every table cell and centres tables: the run's steps table,
    its parameters and a step's tasks stay at the left, under the DAG, as a person reads."""
    flow = tmp_path / "grid_flow.py"
    flow.write_text(FANOUT_FLOW)
    run = flowkit.run(flow, store=str(tmp_path / "store"), progress=Quiet())
    html = run._repr_html_().replace("<details>", "<details open>") + run["train"]._repr_html_()

    with in_jupyterlab(html, "run-display") as page:
        aligned = page.eval_on_selector_all(
            ".flowkit-run td, .flowkit-run th, .flowkit-step td, .flowkit-step th",
            "els => [...new Set(els.map(e => getComputedStyle(e).textAlign))]",
        )
        lefts = page.eval_on_selector_all(
            ".flowkit-run table, .flowkit-step table, .flowkit-dag",
            "els => els.map(e => Math.round(e.getBoundingClientRect().left))",
        )
    assert aligned == ["left"]
    assert len(lefts) == 4 and max(lefts) - min(lefts) <= 8, lefts  # DAG, steps, params, tasks
