"""Both views show why fewer tasks than max_workers run at once, under the start line."""

from __future__ import annotations

import dataclasses

from tests.conftest import require
from tests.surfaces.events import started
from tests.surfaces.test_terminal import play

NOTE = "max_workers=4, but this machine has 2 CPUs and each step takes 1 CPU by default"


def test_the_terminal_says_the_limit_under_its_start_line() -> None:
    out = play([dataclasses.replace(started(), limit=NOTE)], live=False)
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if "TrainFlow/1732442 started" in line)
    assert lines[start + 1] == f"  {NOTE}"
    assert "max_workers" not in play([started()], live=False)


def test_the_widget_says_the_limit() -> None:
    require("ipywidgets")
    from flowkit.surfaces.notebook import NotebookView

    view = NotebookView(display=lambda widget: None)
    view.handle(dataclasses.replace(started(), limit=NOTE))
    view.close()
    assert f'<div class="flowkit-limit">{NOTE}</div>' in view.widget.value
