"""A Flow's rich display: its recent runs (id, status, started, duration) from records only."""

from __future__ import annotations

from pathlib import Path
from unittest import mock

from flowkit.client import Flow, runs_html
from flowkit.client.dag import PHASE_COLOURS
from flowkit.client.data import DataArtifact
from flowkit.store import LocalBackend, Store
from flowkit.testing import FakeTask, write_fake_run

from .conftest import Runs


def test_a_flow_displays_its_recent_runs_newest_first(runs: Runs) -> None:
    never = mock.PropertyMock(side_effect=AssertionError("an artifact was loaded"))
    with mock.patch.object(DataArtifact, "data", new_callable=lambda: never):
        html = Flow("TrainFlow", store=runs.store, _namespace_check=False)._repr_html_()
    rows = html.split("<tr>")[2:]  # after the header row
    ids = [r.split("<code>")[1].split("</code>")[0] for r in rows]
    assert ids == [runs.running.run_id, runs.failed.run_id, runs.good.run_id]
    assert [("succeeded" in r, "failed" in r, "running" in r) for r in rows] == [
        (False, False, True),
        (False, True, False),
        (True, False, False),
    ]
    assert "<th style='text-align:left;padding:2px 10px 2px 0;vertical-align:top'>duration" in html
    assert "most recent" not in html  # all three runs are listed


def test_only_the_most_recent_runs_are_listed(runs: Runs) -> None:
    with mock.patch.object(runs_html, "RECENT", 2):
        html = Flow("TrainFlow", store=runs.store, _namespace_check=False)._repr_html_()
    assert html.count("<tr>") == 3 and runs.good.run_id not in html
    assert "the 2 most recent; all of them: <code>list(Flow(&#x27;TrainFlow&#x27;))</code>" in html


def test_a_cancelled_run_has_the_colour_of_its_killed_tasks(tmp_path: Path) -> None:
    store = Store(LocalBackend(tmp_path / "store", durable=False))
    write_fake_run(store, "TrainFlow", {"start": [FakeTask(status="killed")]}, finish="cancelled")
    html = Flow("TrainFlow", store=store, _namespace_check=False)._repr_html_()
    assert f"<span style='background:{PHASE_COLOURS['killed']};" in html
    assert ">cancelled</span>" in html
