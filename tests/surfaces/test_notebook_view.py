"""The notebook widget for a detached run: where its scheduler went and how to follow it,
kept after the view closes."""

from __future__ import annotations

import time

import pytest

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


def test_the_widget_ticks_and_shows_new_log_lines_between_task_events() -> None:
    # The freeze of issue 18: events that came within the redraw interval of the last one
    # were never drawn, and nothing redrew the view until the next event.
    require("ipywidgets")
    from flowkit.surfaces.notebook import NotebookView
    from tests.surfaces.events import log, started, task

    view = NotebookView(display=lambda widget: None)
    view.handle(started())
    view.handle(task("start", "1", "running"))
    view.handle(log("start", "1", "loading rows"))
    try:
        time.sleep(0.6)  # no event comes: the ticker alone must draw both
        html = view.widget.value
        assert "[start/1] loading rows" in html
        assert '<tr data-phase="running"><td>start</td><td>▸ running</td>' in html
        first = _elapsed(html)
        time.sleep(1.2)
        assert _elapsed(view.widget.value) > first  # elapsed times keep moving
    finally:
        view.close()


def test_a_burst_of_events_costs_a_few_redraws_not_one_each() -> None:
    require("ipywidgets")
    from flowkit.runtime.events import FanOut
    from flowkit.surfaces.notebook import NotebookView
    from tests.surfaces.events import started, task

    view = NotebookView(display=lambda widget: None)
    values: list[str] = []
    view.widget.observe(lambda change: values.append(change["new"]), names="value")
    view.handle(started())
    view.handle(task("start", "1", "running"))
    view.handle(task("start", "1", "succeeded"))
    view.handle(FanOut("start", "1", "train", 1000, 0.0))
    for i in range(1000):
        view.handle(task("train", f"t{i}", "running"))
        view.handle(task("train", f"t{i}", "succeeded"))
    time.sleep(0.4)
    view.close()
    assert len(values) <= 5, len(values)
    assert "1000/1000 done" in values[-1]


def test_the_widget_counts_against_the_fan_out_and_shows_killed_tasks_as_killed() -> None:
    require("ipywidgets")
    from flowkit.client.dag import PHASE_COLOURS
    from flowkit.runtime.events import FanOut, RunFinished
    from flowkit.surfaces.notebook import NotebookView
    from tests.surfaces.events import started, task

    view = NotebookView(display=lambda widget: None, refresh_interval=60)
    view.handle(started())
    view.handle(task("start", "1", "running"))
    view.handle(task("start", "1", "succeeded"))
    view.handle(FanOut("start", "1", "train", 10, 0.0))
    view.handle(task("train", "2", "running"))
    view.handle(task("train", "3", "running"))
    view.handle(task("train", "2", "succeeded"))
    html = view.render(1.0)
    assert "<td>train</td><td>▸ running</td><td>1/10 done, 1 running</td>" in html
    assert "1/10 done, 1 running</text>" in html  # the DAG's box says it too
    view.handle(task("train", "3", "killed", exit_code=-9))
    view.handle(RunFinished("TrainFlow", "1732442", "cancelled", 2.0, {"killed": 1}))
    view.close()
    html = view.widget.value
    assert "<td>train</td><td>⊘ killed</td><td>1/10 done, 1 killed</td>" in html
    assert 'data-phase="killed"><title>train: killed' in html
    assert f'fill="{PHASE_COLOURS["killed"]}"' in html


def _elapsed(html: str) -> float:
    """The run's elapsed seconds in the widget's head line."""
    return float(html.split(" &middot; ")[2].rstrip("s"))


def test_a_finished_run_says_its_failure_in_one_line_and_where_to_look() -> None:
    require("ipywidgets")
    from flowkit.runtime.events import RunFinished
    from flowkit.surfaces.notebook import NotebookView
    from tests.surfaces.events import TRACEBACK, started

    def ended(**kw: object) -> str:
        view = NotebookView(display=lambda widget: None)
        view.handle(started())
        view.handle(RunFinished("TrainFlow", "1732442", time=1.0, **kw))  # type: ignore[arg-type]
        view.close()
        return view.widget.value.split('<div class="flowkit-failure">')[1].split("</div>")[0]

    failed = ended(
        status="failed",
        failure=TRACEBACK,
        failed_pathspec="TrainFlow/1732442/train/3",
        resume_command="flowkit.resume(TrainFlow)",
    )
    # a user who catches RunFailed gets no error display below: the line says where to look
    assert failed == (
        "✗ TrainFlow/1732442/train/3 failed: <code>ValueError: alpha must be positive"
        "</code> &middot; the traceback and how to resume are below (or <code>"
        "exc.run[&#x27;train&#x27;][&#x27;3&#x27;]</code> and <code>exc.hint</code>"
        " where RunFailed is caught as exc)"
    )
    # a cancel has no traceback: the line does not promise one, nor call it a failure
    cancelled = ended(
        status="cancelled",
        failure="cancelled by the user",
        resume_command="flowkit.resume(TrainFlow)",
    )
    assert cancelled == (
        "■ cancelled by the user: nothing finished is lost &middot; how to resume is below "
        "(or in <code>exc.hint</code> where RunFailed is caught as exc)"
    )
    # a run that failed with no task to blame: the scheduler's reason, no traceback promised
    stopped = ended(
        status="failed",
        failure="the executor could not start",
        resume_command="flowkit.resume(TrainFlow)",
    )
    assert stopped.startswith(
        "✗ failed: <code>the executor could not start</code> &middot; how to resume is below"
    )


@pytest.mark.slow
def test_the_steps_table_reads_in_columns_in_a_browser() -> None:
    """Its headings sit over their words (not centred) and its columns stand apart."""
    require("ipywidgets")
    from flowkit.surfaces.notebook import NotebookView
    from tests.browser import chromium
    from tests.surfaces.events import successful_run

    view = NotebookView(display=lambda widget: None)
    for event in successful_run():
        view.handle(event)
    view.close()
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 900, "height": 600})
        page.set_content(f"<body style='font-family:sans-serif'>{view.widget.value}</body>")
        aligned = page.eval_on_selector_all(
            ".flowkit-steps th", "els => [...new Set(els.map(e => getComputedStyle(e).textAlign))]"
        )
        gaps = page.eval_on_selector(
            ".flowkit-steps tr:nth-child(2)",
            "tr => [...tr.cells].slice(1).map((c, i) => c.getBoundingClientRect().left"
            " - tr.cells[i].getBoundingClientRect().right)",
        )
        lefts = page.eval_on_selector_all(
            ".flowkit-run > div:first-child, .flowkit-steps td:first-child",
            "els => [...new Set(els.map(e => Math.round(e.getBoundingClientRect().left)))]",
        )
    assert aligned == ["left"]
    assert min(gaps) >= 10, gaps
    assert len(lefts) == 1, lefts  # the step names line up with the head line
