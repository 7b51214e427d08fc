"""A stored matplotlib Figure previews as a PNG of itself, even when it pickles larger than
the other previews' limit, and leaves no figure behind in pyplot (where a notebook's inline
backend would draw it a second time)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

import flowkit
from flowkit.client.display import PREVIEW_LIMIT
from tests.runtime.test_shapes import Quiet

PLOTS = """
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from flowkit import FlowSpec, step

class PlotsFlow(FlowSpec):
    @step
    def start(self):
        fig, ax = plt.subplots(figsize=(4, 3))
        ax.plot(np.sin(np.linspace(0, 20, 2000)))
        self.curve = fig
        self.next(self.end)

    @step
    def end(self):
        pass
"""


def test_a_figure_previews_as_a_png_and_is_closed_in_pyplot(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    flow = tmp_path / "plots_flow.py"
    flow.write_text(PLOTS)
    run = flowkit.run(flow, store=str(tmp_path / "store"), progress=Quiet())
    task = run["start"].task
    assert task["curve"].size > PREVIEW_LIMIT  # larger than any other preview may load
    plt.close("all")

    html = task._repr_html_()

    assert plt.get_fignums() == [], "the loaded figure stayed registered with pyplot"
    assert html.count("<img") == 1
    start = html.index('src="data:image/png;base64,') + len('src="data:image/png;base64,')
    png = base64.b64decode(html[start : html.index('"', start)])
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert 200 < width < 320 and 150 < height < 240  # 4 x 3 inches at 72 dpi, trimmed
