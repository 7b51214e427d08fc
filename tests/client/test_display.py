"""The rich display of a past run in Jupyter: a cancelled run's killed tasks read as killed
(not failed), and its small tables keep left where JupyterLab right-aligns every cell."""

from __future__ import annotations

import re
from pathlib import Path

from flowkit.client import Run
from flowkit.client.dag import PHASE_COLOURS, caption, phase
from flowkit.client.display import run_html, step_html
from flowkit.store import LocalBackend, Store
from flowkit.testing import FakeTask, write_fake_run
from tests.client.conftest import Runs


def test_killed_tasks_of_a_cancelled_run_show_as_killed(tmp_path: Path) -> None:
    store = Store(LocalBackend(tmp_path / "store", durable=False))
    record = write_fake_run(
        store,
        "TrainFlow",
        {
            "start": [FakeTask({"grid": [1, 2, 3]})],
            "train": [
                FakeTask({"m": 1}, foreach=(0,)),
                FakeTask(status="killed", foreach=(1,)),
                FakeTask(status="killed", foreach=(2,)),
            ],
        },
        finish="cancelled",
    )
    html = run_html(Run(f"TrainFlow/{record.run_id}", store=store, _namespace_check=False))
    assert 'data-step="train" data-phase="killed"><title>train: killed, 1/3 done, 2 killed' in html
    assert f'fill="{PHASE_COLOURS["killed"]}"' in html
    assert "failed" not in html
    # a step with a task that failed is failed, whatever else a cancel killed
    assert phase({"failed": 1, "killed": 2}) == "failed"
    assert caption({"succeeded": 1, "failed": 1, "killed": 2}) == "1/4 done, 1 failed, 2 killed"


def test_a_runs_tables_keep_left_in_jupyterlab(runs: Runs) -> None:
    run = Run(f"TrainFlow/{runs.good.run_id}", store=runs.store, _namespace_check=False)
    for html in (run_html(run), step_html(run["train"])):
        cells = re.findall(r"<t[dh]\b[^>]*>", html)
        assert cells, html
        # every cell says so itself: JupyterLab's own rule (text-align: right) loses to it
        assert all("text-align:left" in cell for cell in cells), cells
        tables = re.findall(r"<table\b[^>]*>", html)
        assert all("margin-left:0" in table for table in tables), tables
