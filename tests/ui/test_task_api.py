"""GET /api/runs/F/RUN/STEP/TASK on real runs: a join's artifacts and lineage, a failed
task's attempts and traceback, a clone's origin and why it was cloned, and the 404s."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from flowkit.store import Store
from flowkit.store.records import TaskRecord
from flowkit.ui.task_api import LINKS_SHOWN, capped_links
from tests.ui.conftest import UiStore


def tasks(store: Store, flow: str, run_id: str, step: str) -> list[TaskRecord]:
    return sorted(store.records.list_tasks(flow, run_id, step), key=lambda r: r.foreach)


def test_join_task_lists_artifacts_from_the_record_and_its_lineage(
    client: TestClient, store: Store, ui_store: UiStore
) -> None:
    run = ui_store.showcase
    (join,) = tasks(store, "UiShowcaseFlow", run, "join")
    trains = tasks(store, "UiShowcaseFlow", run, "train")
    (end,) = tasks(store, "UiShowcaseFlow", run, "end")

    answer = client.get(f"/api/runs/{join.pathspec}")

    assert answer.status_code == 200
    task = answer.json()
    assert task["pathspec"] == join.pathspec
    assert task["url"] == f"/{join.pathspec}"
    assert task["status"] == "succeeded"
    assert task["attempt"] == 0
    assert task["index"] == []
    assert task["exception"] is None and task["failure"] is None
    assert task["exit_code"] == 0
    assert task["duration"] == pytest.approx(join.finished_at - join.started_at)
    assert [a["attempt"] for a in task["attempts"]] == [0]
    assert task["why"] is None  # the run was neither resumed nor run with --reuse
    artifacts = {a["name"]: a for a in task["artifacts"]}
    assert [a["name"] for a in task["artifacts"]] == sorted(artifacts)
    assert artifacts["table"]["type"] == "pandas.DataFrame"
    assert artifacts["matrix"]["type"] == "numpy.ndarray"
    assert artifacts["chart"]["type"] == "bytes"
    assert artifacts["note"]["type"] == "str"
    for name in ("table", "matrix", "chart", "note"):
        ref = join.artifacts[name]
        assert (artifacts[name]["size"], artifacts[name]["digest"]) == (ref.size, ref.digest)
    assert artifacts["table"]["url"] == f"/{join.pathspec}/table"
    assert artifacts["table"]["api"] == f"/api/runs/{join.pathspec}/artifacts/table"
    assert [p["pathspec"] for p in task["parents"]] == sorted(t.pathspec for t in trains)
    assert task["parent_count"] == 4
    assert task["children"] == [{"pathspec": end.pathspec, "url": f"/{end.pathspec}"}]
    assert task["child_count"] == 1
    assert task["snippet"] == f"Task('{join.pathspec}').data"
    assert task["logs"] == {"stdout": 0, "stderr": 0}


def test_foreach_task_has_its_index_and_log_counts(
    client: TestClient, store: Store, ui_store: UiStore
) -> None:
    third = tasks(store, "UiShowcaseFlow", ui_store.showcase, "train")[2]

    task = client.get(f"/api/runs/{third.pathspec}").json()

    assert task["index"] == [2]
    assert task["logs"] == {"stdout": 1, "stderr": 1}
    assert {a["name"] for a in task["artifacts"]} >= {"score"}


def test_failed_task_shows_every_attempt_with_its_traceback(
    client: TestClient, store: Store, ui_store: UiStore
) -> None:
    (work,) = tasks(store, "FixableFlow", ui_store.failed, "work")

    task = client.get(f"/api/runs/{work.pathspec}").json()

    assert task["status"] == "failed" and task["attempt"] == 1
    assert task["failure"] == "error"
    assert task["exception"]["type"] == "RuntimeError"
    assert task["exception"]["qualified_type"] == "builtins.RuntimeError"
    assert task["exception"]["message"] == "the bug is still there"
    assert "the bug is still there" in task["exception"]["traceback"]
    assert "tests/flows/failures.py" in task["exception"]["traceback"]
    assert [(a["attempt"], a["status"], a["failure"]) for a in task["attempts"]] == [
        (0, "failed", "error"),
        (1, "failed", "error"),
    ]
    assert all(a["exception"]["type"] == "RuntimeError" for a in task["attempts"])
    assert task["artifacts"] == []
    assert task["children"] == [] and task["child_count"] == 0
    (start,) = tasks(store, "FixableFlow", ui_store.failed, "start")
    assert [p["pathspec"] for p in task["parents"]] == [start.pathspec]
    assert task["logs"]["stderr"] > 0  # the traceback


def test_an_earlier_attempt_is_shown_when_asked_for(
    client: TestClient, store: Store, ui_store: UiStore
) -> None:
    (work,) = tasks(store, "FixableFlow", ui_store.failed, "work")

    task = client.get(f"/api/runs/{work.pathspec}", params={"attempt": 0}).json()

    assert task["attempt"] == 0
    assert task["exception"]["message"] == "the bug is still there"
    assert task["started_at"] == task["attempts"][0]["started_at"]
    assert task["started_at"] < task["attempts"][1]["started_at"]
    assert task["snippet"] == f"Task('{work.pathspec}', attempt=0).data"


def test_a_clone_shows_its_origin_and_why_it_was_cloned(
    client: TestClient, store: Store, ui_store: UiStore
) -> None:
    (clone,) = tasks(store, "FixableFlow", ui_store.resumed, "start")
    (origin,) = tasks(store, "FixableFlow", ui_store.failed, "start")
    (work,) = tasks(store, "FixableFlow", ui_store.resumed, "work")

    task = client.get(f"/api/runs/{clone.pathspec}").json()

    assert task["status"] == "cloned"
    assert task["origin_pathspec"] == origin.pathspec
    assert task["origin_url"] == f"/{origin.pathspec}"
    assert task["why"]["action"] == "cloned"
    assert task["why"]["origin"] == origin.pathspec
    assert task["why"]["reason"]
    assert [c["pathspec"] for c in task["children"]] == [work.pathspec]
    assert {a["name"] for a in task["artifacts"]} >= {"value"}

    ran = client.get(f"/api/runs/{work.pathspec}").json()
    assert ran["why"]["action"] == "ran" and ran["why"]["origin"] is None
    assert ran["status"] == "succeeded" and ran["origin_url"] is None


def test_unknown_task_and_attempt_answer_404_and_a_bad_attempt_400(
    client: TestClient, store: Store, ui_store: UiStore
) -> None:
    (work,) = tasks(store, "FixableFlow", ui_store.failed, "work")
    run = f"FixableFlow/{ui_store.failed}"

    for path in (f"{run}/work/nosuchtask", f"{run}/nostep/x", "NoFlow/r1/start/t1"):
        answer = client.get(f"/api/runs/{path}")
        assert answer.status_code == 404, path
        assert "is not in the store" in answer.json()["error"]

    answer = client.get(f"/api/runs/{work.pathspec}", params={"attempt": 5})
    assert answer.status_code == 404
    assert answer.json() == {
        "error": f"task {work.pathspec} has no attempt 5",
        "hint": "its attempts are: 0, 1",
    }

    answer = client.get(f"/api/runs/{work.pathspec}", params={"attempt": "last"})
    assert answer.status_code == 400
    assert "attempt='last'" in answer.json()["error"]


def test_links_are_capped_and_counted() -> None:
    pathspecs = [f"F/r/train/t{i:04d}" for i in range(250)]

    shown, count = capped_links(iter(pathspecs))

    assert count == 250
    assert len(shown) == LINKS_SHOWN == 100
    assert shown[0] == {"pathspec": "F/r/train/t0000", "url": "/F/r/train/t0000"}
    assert shown[-1]["pathspec"] == "F/r/train/t0099"
