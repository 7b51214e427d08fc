"""The notebook widget for a detached run: where its scheduler went and how to follow it,
kept after the view closes."""

from __future__ import annotations

from tests.conftest import require


def test_a_detached_run_says_where_its_scheduler_runs() -> None:
    require("ipywidgets")
    from flowkit.runtime.events import RunDetached
    from flowkit.surfaces.notebook import NotebookView

    view = NotebookView(display=lambda widget: None)
    view.handle(RunDetached("TrainFlow", "r1", "/shared/store", "slurm", "Slurm job 42", 0.0))
    view.close()
    html = view.widget.value
    assert "<b>TrainFlow/r1</b> &middot; detached: its scheduler runs as Slurm job 42" in html
    assert "<code>Flow('TrainFlow')['r1']</code>" in html
    assert "flowkit show TrainFlow/r1" in html


def test_a_resume_says_which_run_it_starts_from_as_the_terminal_does() -> None:
    require("ipywidgets")
    from flowkit.runtime.events import RunStarted
    from flowkit.surfaces.notebook import NotebookView
    from tests.surfaces.events import STEPS

    origin = "TrainFlow/r0 (the most recent run, by ann, 2026-11-29 23:00:00 UTC)"
    view = NotebookView(display=lambda widget: None)
    view.handle(RunStarted("TrainFlow", "r1", "/tmp/store", STEPS, 0.0, resuming=origin))
    assert f"<div>resuming {origin}</div>" in view.widget.value
    named = NotebookView(display=lambda widget: None)  # an origin the user named: no line
    named.handle(RunStarted("TrainFlow", "r2", "/tmp/store", STEPS, 0.0))
    assert "resuming" not in named.widget.value
