"""The step page's API (``/api/runs/F/RUN/STEP``) and a step's history over past runs
(``/api/flows/F/steps/STEP/history``), against the UI test store's real runs."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from flowkit.client import Run
from tests.ui.conftest import UiStore


def get(client: TestClient, path: str, expect: int = 200, **params: Any) -> dict[str, Any]:
    answer = client.get(path, params=params)
    assert answer.status_code == expect, answer.text
    data: dict[str, Any] = answer.json()
    return data


def test_a_foreach_step_lists_its_tasks_by_index_with_stats_and_code(
    client: TestClient, ui_store: UiStore
) -> None:
    step = get(client, f"/api/runs/UiShowcaseFlow/{ui_store.showcase}/train")
    assert (step["phase"], step["done"], step["total"], step["count"]) == ("done", 4, 4, 4)
    assert step["pathspec"] == f"UiShowcaseFlow/{ui_store.showcase}/train"
    assert [t["index"] for t in step["tasks"]] == [[0], [1], [2], [3]]
    assert {t["status"] for t in step["tasks"]} == {"succeeded"}
    assert step["next"] is None
    run = Run(f"UiShowcaseFlow/{ui_store.showcase}", store=str(ui_store.path))
    ids = {t.id for t in run["train"]}
    assert {t["task_id"] for t in step["tasks"]} == ids
    first = step["tasks"][0]
    assert first["url"] == f"/UiShowcaseFlow/{ui_store.showcase}/train/{first['task_id']}"
    assert first["duration"] == pytest.approx(first["finished_at"] - first["started_at"])
    durations = sorted(t["duration"] for t in step["tasks"])
    assert step["durations"]["min"] == durations[0]
    assert step["durations"]["max"] == step["durations"]["p95"] == durations[-1]
    assert step["durations"]["median"] == pytest.approx((durations[1] + durations[2]) / 2)
    assert step["code"].startswith("def train(self):")
    assert "self.score = (self.input + 1) * 0.25" in step["code"]


def test_tasks_come_a_page_at_a_time(client: TestClient, ui_store: UiStore) -> None:
    path = f"/api/runs/UiShowcaseFlow/{ui_store.wider}/train"
    first = get(client, path, limit=4)
    assert [t["index"] for t in first["tasks"]] == [[0], [1], [2], [3]]
    assert first["count"] == 6 and first["next"] is not None
    rest = get(client, path, limit=4, cursor=first["next"])
    assert [t["index"] for t in rest["tasks"]] == [[4], [5]]
    assert rest["next"] is None
    assert get(client, path, 400, limit=0)["error"].startswith("query parameter limit=0")


def test_the_status_filter_picks_tasks_by_their_latest_attempt(
    client: TestClient, ui_store: UiStore
) -> None:
    failed = get(client, f"/api/runs/FixableFlow/{ui_store.failed}/work", status="failed")
    [task] = failed["tasks"]
    assert (task["status"], task["attempt"], task["failure"]) == ("failed", 1, "error")
    assert failed["phase"] == "failed" and failed["durations"] is not None
    assert failed["run_status"] == "failed"
    none = get(client, f"/api/runs/FixableFlow/{ui_store.failed}/work", status="succeeded")
    assert (none["tasks"], none["count"]) == ([], 0)
    bad = get(client, f"/api/runs/FixableFlow/{ui_store.failed}/work", 400, status="done")
    assert "'done'" in bad["error"] and "succeeded" in bad["hint"]


def test_a_cloned_step_names_its_origin_and_has_no_durations(
    client: TestClient, ui_store: UiStore
) -> None:
    step = get(client, f"/api/runs/FixableFlow/{ui_store.resumed}/start")
    [task] = step["tasks"]
    assert task["status"] == "cloned"
    assert task["origin_pathspec"].startswith(f"FixableFlow/{ui_store.failed}/start/")
    assert step["phase"] == "cloned" and step["durations"] is None


def test_a_step_the_run_never_reached_and_an_unknown_step(
    client: TestClient, ui_store: UiStore
) -> None:
    end = get(client, f"/api/runs/FixableFlow/{ui_store.failed}/end")
    assert (end["phase"], end["tasks"], end["count"], end["durations"]) == ("not run", [], 0, None)
    missing = get(client, f"/api/runs/FixableFlow/{ui_store.failed}/nope", 404)
    assert "nope" in missing["error"] and "start, work, end" in missing["hint"]


def test_history_lists_the_runs_where_the_step_ran_oldest_first(
    client: TestClient, ui_store: UiStore
) -> None:
    work = get(client, "/api/flows/FixableFlow/steps/work/history")
    assert [p["run_id"] for p in work["points"]] == [ui_store.failed, ui_store.resumed]
    assert [p["status"] for p in work["points"]] == ["failed", "succeeded"]
    assert all(p["tasks"] == 1 and p["span"] > 0 and p["median"] > 0 for p in work["points"])
    # the resumed run cloned its start: only the failed run ran it
    start = get(client, "/api/flows/FixableFlow/steps/start/history")
    assert [p["run_id"] for p in start["points"]] == [ui_store.failed]
    train = get(client, "/api/flows/UiShowcaseFlow/steps/train/history")
    assert [p["tasks"] for p in train["points"]] == [4, 6]
    for point in train["points"]:
        assert point["span"] >= point["median"] > 0
    newest = get(client, "/api/flows/UiShowcaseFlow/steps/train/history", limit=1)
    assert [p["run_id"] for p in newest["points"]] == [ui_store.wider]


def test_history_of_an_unknown_flow_is_a_404(client: TestClient) -> None:
    answer = get(client, "/api/flows/NoSuchFlow/steps/start/history", 404)
    assert "NoSuchFlow" in answer["error"] and "flowkit runs" in answer["hint"]
