"""The live widget in a real kernel, as the front end receives it: it ticks during a long step
(running, elapsed time, the line the step printed), counts a foreach against its real size,
and a screenshot of it mid-run is kept for a person to look at."""

from __future__ import annotations

import re
import time
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from tests.browser import chromium
from tests.conftest import ROOT, require

SHOTS = ROOT / "test-outputs" / "notebook"

LIVE_FLOW = """
import time
from flowkit import FlowSpec, step

class LiveFlow(FlowSpec):
    @step
    def start(self):
        print("loading rows", flush=True)
        time.sleep(4)
        self.grid = list(range(10))
        self.next(self.train, foreach="grid")

    @step
    def train(self):
        time.sleep(0.6)
        self.next(self.pick)

    @step
    def pick(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass
"""


def execute_recording(cells: list[str]) -> list[tuple[float, str]]:
    """Execute ``cells`` in a fresh kernel; every value an HTML widget was sent, with the
    (monotonic) time this side received it: what a front end showed, and when."""
    nbformat = require("nbformat")
    nbclient = require("nbclient")
    require("ipykernel")
    require("ipywidgets")
    received: list[tuple[float, str]] = []

    class Recording(nbclient.NotebookClient):  # type: ignore[misc, name-defined]
        def handle_comm_msg(self, outs: Any, msg: dict[str, Any], cell_index: int) -> None:
            value = msg["content"].get("data", {}).get("state", {}).get("value")
            if isinstance(value, str):
                received.append((time.monotonic(), value))
            super().handle_comm_msg(outs, msg, cell_index)

    setup = f"import sys\nsys.path.insert(0, {str(ROOT)!r})"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in [setup, *cells]])
    Recording(nb, timeout=180, kernel_name="python3", store_widget_state=True).execute()
    return received


def row(html: str, step: str) -> tuple[str, str, float | None]:
    """A step's (state, tasks, elapsed seconds) in the widget's table."""
    found = re.search(
        rf"<td>{step}</td><td>\S+ ([a-z ]+)</td><td>([^<]*)</td><td>([0-9.]*)s?</td>", html
    )
    assert found, html
    state, tasks, elapsed = found.groups()
    return state, tasks, float(elapsed) if elapsed else None


@pytest.mark.kernel
@pytest.mark.slow
def test_the_widget_ticks_during_a_long_step_and_counts_the_real_fan_out(tmp_path: Path) -> None:
    received = execute_recording(
        [
            LIVE_FLOW,
            "import flowkit\n"
            "from flowkit.surfaces.notebook import NotebookView\n"
            f"run = flowkit.run(LiveFlow, store={str(tmp_path)!r}, progress=NotebookView())",
        ]
    )
    values = [(t, v) for t, v in received if "flowkit-run" in v]
    assert values, received
    # The moment the front end first heard that start runs; what it showed a second later.
    began = next(t for t, v in values if row(v, "start")[0] == "running")
    timeline = [(round(t - began, 2), row(v, "start")[2]) for t, v in values if t >= began]
    shown = [v for t, v in values if t <= began + 1.0][-1]
    state, _, elapsed = row(shown, "start")
    assert state == "running", shown
    assert elapsed is not None and elapsed >= 0.5, timeline
    assert "[start/" in shown and "] loading rows" in shown, shown
    # It kept ticking through the step, with no event to prompt it: an update a second at least.
    during = [t for t, v in values if began <= t <= began + 3.5]
    assert len(during) >= 4 and max(b - a for a, b in pairwise(during)) <= 1.0, timeline
    # While the foreach runs, its tasks count against the ten the split task fanned out into.
    mid = [v for _, v in values if row(v, "train")[0] == "running"]
    assert mid, values[-1][1]
    captions = {row(v, "train")[1] for v in mid}
    assert all("/10 done" in c for c in captions), captions
    assert any(c.startswith(("1/10", "2/10", "3/10", "4/10", "5/10")) for c in captions), captions
    assert row(values[-1][1], "train")[:2] == ("done", "10/10 done")
    screenshot(mid[len(mid) // 2], "widget-running")  # some branches done, some running


def screenshot(html: str, name: str) -> None:
    """The widget's HTML as a browser draws it, into test-outputs/notebook/NAME.png."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page_html = (
        "<html><body style='font-family:sans-serif;font-size:13px;margin:12px;width:760px'>"
        f"<div class='widget-html-content'>{html}</div></body></html>"
    )
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 800, "height": 600})
        page.set_content(page_html)
        page.locator(".flowkit-run").screenshot(path=str(SHOTS / f"{name}.png"))
        page.close()


@pytest.mark.kernel
@pytest.mark.slow
def test_after_an_interrupt_the_widget_shows_the_killed_tasks_as_killed(tmp_path: Path) -> None:
    jupyter_client = require("jupyter_client")
    require("ipywidgets")
    from tests.notebook.test_interrupt import SLOW_FLOW, _wait_for_running

    km, kc = jupyter_client.manager.start_new_kernel(kernel_name="python3")
    try:
        store = str(tmp_path / "store")
        kc.execute_interactive(
            f"import sys; sys.path.insert(0, {str(ROOT)!r})\nimport flowkit\n"
            "from flowkit.surfaces.notebook import NotebookView",
            timeout=60,
        )
        kc.execute_interactive(SLOW_FLOW, timeout=60)
        kc.execute(
            "view = NotebookView()\n"
            f"try:\n    flowkit.run(SlowFlow, store={store!r}, progress=view)\n"
            "except flowkit.RunFailed:\n    pass"
        )
        _wait_for_running(Path(store), 2)
        km.interrupt_kernel()
        printed: list[str] = []
        kc.execute_interactive(
            "print(view.widget.value)",
            timeout=30,
            output_hook=lambda msg: printed.append(msg["content"].get("text", "")),
        )
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    html = "".join(printed)
    assert row(html, "nap")[:2] == ("killed", "0/2 done, 2 killed"), html
    assert 'data-step="nap" data-phase="killed"' in html
    assert row(html, "start")[0] == "done" and row(html, "join")[0] == "not run"
    # a cancel has no traceback: the line says so, not "the traceback ... below"
    assert "■ cancelled by the user: nothing finished is lost" in html
    assert "traceback" not in html
    screenshot(html, "widget-killed")
