"""The run page's API (``/api/runs/F/RUN``) and its timeline (``/api/timeline/F/RUN``),
against real runs: the showcase foreach, FixableFlow's failed run and its resume, and a run
still in progress."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

import flowkit
from flowkit.store import TaskRecord, layout, open_store
from flowkit.store.cached import cached
from flowkit.store.deadletters import list_letters
from flowkit.store.gc import collect
from flowkit.store.gc_plan import Policy
from flowkit.store.lease import Lease
from flowkit.store.records import ExceptionInfo
from flowkit.ui.app import create_app
from flowkit.ui.common import UiContext
from flowkit.ui.run_model import RunTasks, read_tasks, steps_json
from tests.runtime.test_shapes import Quiet
from tests.ui.conftest import LiveRun, UiStore, api_client


def get(client: TestClient, path: str, status: int = 200) -> dict[str, Any]:
    answer = client.get(path)
    assert answer.status_code == status, answer.text
    data: dict[str, Any] = answer.json()
    return data


def by_name(steps: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in steps}


def test_a_foreach_run_shows_its_steps_in_graph_order_with_counts(
    client: TestClient, ui_store: UiStore
) -> None:
    run = get(client, f"/api/runs/UiShowcaseFlow/{ui_store.showcase}")
    assert run["status"] == "succeeded"
    assert run["parameters"] == {"label": "'baseline'", "width": "4"}
    assert [s["name"] for s in run["steps"]] == ["start", "train", "join", "end"]
    train = by_name(run["steps"])["train"]
    assert train["counts"] == {"succeeded": 4}
    assert (train["done"], train["total"], train["foreach"]) == (4, 4, True)
    assert (train["phase"], train["caption"]) == ("done", "4/4 done")
    assert train["url"] == f"/UiShowcaseFlow/{ui_store.showcase}/train"
    assert [(s["depth"], s["row"]) for s in run["steps"]] == [(0, 0), (1, 0), (2, 0), (3, 0)]
    assert by_name(run["steps"])["start"]["next"] == ["train"]
    assert by_name(run["steps"])["end"]["next"] == []
    assert train["finished_at"] >= train["started_at"] > run["created_at"]
    assert run["failures"] == [] and run["dead_letters"] == []
    assert run["origin"] is None
    assert run["source"].endswith("tests/flows/ui.py")
    assert run["resume"]["command"].endswith(f"ui.py resume --origin-run-id {ui_store.showcase}")
    assert run["resume"]["python"] == (
        f"flowkit.resume(UiShowcaseFlow, origin_run_id='{ui_store.showcase}')"
    )
    assert run["code"]["flow_file"] == "tests/flows/ui.py"
    assert "tests/flows/ui.py" in run["code"]["files"]
    assert run["explanation"] == {"ran": 0, "cloned": 0, "reused": 0}
    assert run["heartbeat_at"] >= run["created_at"]


def test_the_failed_run_names_its_failed_step_exception_and_dead_letter(
    client: TestClient, ui_store: UiStore
) -> None:
    run = get(client, f"/api/runs/FixableFlow/{ui_store.failed}")
    assert run["status"] == "failed"
    steps = by_name(run["steps"])
    assert steps["work"]["phase"] == "failed"
    assert steps["work"]["counts"] == {"failed": 1}
    assert steps["end"]["phase"] == "not run"  # the step it never reached is drawn too
    assert steps["end"]["total"] == 0
    [failure] = run["failures"]
    assert failure["step"] == "work"
    assert failure["attempt"] == 1  # @retry(times=1): the second attempt failed for good
    assert failure["failure"] == "error"
    assert failure["exception"]["type"] == "RuntimeError"
    assert failure["exception"]["qualified_type"] == "builtins.RuntimeError"
    assert failure["exception"]["message"] == "the bug is still there"
    assert "raise RuntimeError" in failure["exception"]["traceback"]
    [letter] = [
        x for x in list_letters(open_store(str(ui_store.path))) if x.run_id == ui_store.failed
    ]
    assert failure["dead_letter"] == letter.id
    [row] = run["dead_letters"]
    assert (row["id"], row["step"], row["task_id"]) == (letter.id, "work", failure["task_id"])
    assert row["run_url"] == f"/FixableFlow/{ui_store.failed}"
    assert row["exception"]["message"] == "the bug is still there"


def test_the_resumed_run_names_its_origin_and_its_cloned_start(
    client: TestClient, ui_store: UiStore
) -> None:
    run = get(client, f"/api/runs/FixableFlow/{ui_store.resumed}")
    assert run["status"] == "succeeded"
    assert run["origin_run_id"] == ui_store.failed
    assert run["origin"] == {
        "pathspec": f"FixableFlow/{ui_store.failed}",
        "url": f"/FixableFlow/{ui_store.failed}",
    }
    steps = by_name(run["steps"])
    assert (steps["start"]["phase"], steps["start"]["counts"]) == ("cloned", {"cloned": 1})
    assert steps["work"]["phase"] == "done"
    assert run["failures"] == []
    assert run["explanation"] == {"ran": 2, "cloned": 1, "reused": 0}


def test_the_version_stays_while_nothing_changes(client: TestClient, ui_store: UiStore) -> None:
    path = f"/api/runs/UiShowcaseFlow/{ui_store.showcase}"
    first, second = get(client, path), get(client, path)
    other = get(client, f"/api/runs/UiShowcaseFlow/{ui_store.wider}")
    assert first["version"] == second["version"] != other["version"]


def test_an_unknown_run_is_a_404_with_a_hint(client: TestClient) -> None:
    answer = get(client, "/api/runs/UiShowcaseFlow/nosuchrun", status=404)
    assert "nosuchrun" in answer["error"] and answer["hint"]
    assert get(client, "/api/timeline/NoFlow/nosuchrun", status=404)["error"]


def test_the_timeline_shows_both_failed_attempts_of_the_retried_step(
    client: TestClient, ui_store: UiStore
) -> None:
    tl = get(client, f"/api/timeline/FixableFlow/{ui_store.failed}")
    assert tl["columns"] == [
        "step", "lane", "task_id", "attempt", "start", "end", "status", "straggler"
    ]  # fmt: skip
    assert [s["name"] for s in tl["steps"]] == ["start", "work"]
    bars = [dict(zip(tl["columns"], bar, strict=True)) for bar in tl["bars"]]
    work = [b for b in bars if tl["steps"][b["step"]]["name"] == "work"]
    assert [(b["attempt"], b["status"]) for b in work] == [(0, "failed"), (1, "failed")]
    assert work[0]["task_id"] == work[1]["task_id"]
    assert work[0]["end"] <= work[1]["start"]  # the retry follows: one lane holds both
    assert [b["lane"] for b in work] == [0, 0] and tl["steps"][1]["lanes"] == 1
    assert tl["start"] <= min(b["start"] for b in bars) and tl["end"] >= max(b["end"] for b in bars)


def test_the_timeline_packs_a_foreach_and_leaves_clones_out(
    client: TestClient, ui_store: UiStore
) -> None:
    tl = get(client, f"/api/timeline/UiShowcaseFlow/{ui_store.showcase}")
    steps = by_name(tl["steps"])
    assert steps["train"]["tasks"] == 4
    train = steps["train"]
    index = tl["steps"].index(train)
    bars = [b for b in tl["bars"] if b[0] == index]
    assert len(bars) == 4 and {b[6] for b in bars} == {"succeeded"}
    assert 1 <= train["lanes"] <= 4 and {b[1] for b in bars} == set(range(train["lanes"]))
    resumed = get(client, f"/api/timeline/FixableFlow/{ui_store.resumed}")
    start = by_name(resumed["steps"])["start"]
    assert (start["tasks"], start["cloned"]) == (1, 1)
    assert [b for b in resumed["bars"] if b[0] == resumed["steps"].index(start)] == []


@pytest.mark.slow
def test_a_running_run_shows_its_running_step_and_an_open_bar(live_run: LiveRun) -> None:
    live_run.wait_for_step("wait")
    run_id = live_run.run_id
    client = api_client(live_run.store)
    run = get(client, f"/api/runs/UiLiveFlow/{run_id}")
    assert run["status"] == "running"
    assert run["finished_at"] is None and run["duration"] >= 0
    steps = by_name(run["steps"])
    assert steps["start"]["phase"] == "done"
    assert steps["wait"]["phase"] == "running"
    assert (steps["wait"]["caption"], steps["wait"]["done"]) == ("running", 0)
    assert steps["end"]["phase"] == "waiting"  # not reached yet: the run goes on
    tl = get(client, f"/api/timeline/UiLiveFlow/{run_id}")
    wait = [s["name"] for s in tl["steps"]].index("wait")
    [bar] = [b for b in tl["bars"] if b[0] == wait]
    assert (bar[5], bar[6]) == (None, "running")
    assert tl["end"] >= bar[4] and tl["now"] >= bar[4]
    live_run.open_gate()
    deadline = time.monotonic() + 60
    while get(client, f"/api/runs/UiLiveFlow/{run_id}")["status"] == "running":
        assert time.monotonic() < deadline, "the run did not end after its gate opened"
        time.sleep(0.1)
    ended = get(client, f"/api/runs/UiLiveFlow/{run_id}")
    assert ended["status"] == "succeeded"
    assert by_name(ended["steps"])["wait"]["phase"] == "done"
    assert ended["version"] != run["version"]


def test_an_ended_run_is_read_once_and_a_running_one_each_time(ui_store: UiStore) -> None:
    store = open_store(str(ui_store.path))
    record = store.records.get_run("UiShowcaseFlow", ui_store.showcase)
    first = read_tasks(store, record, ended=True)
    assert read_tasks(store, record, ended=True) is first
    assert len(first.tasks["train"]) == 4
    fresh = read_tasks(store, record)
    assert fresh is not first and fresh.tasks == first.tasks


def test_a_nested_foreach_counts_every_inner_task(tmp_path: Path) -> None:
    from tests.flows.nested_foreach import NestedForeachFlow

    run = flowkit.run(NestedForeachFlow, store=str(tmp_path / "store"), progress=Quiet())
    steps = by_name(
        get(api_client(tmp_path / "store"), f"/api/runs/NestedForeachFlow/{run.id}")["steps"]
    )
    assert (steps["outer"]["done"], steps["outer"]["total"], steps["outer"]["foreach"]) == (
        3,
        3,
        True,
    )
    # each of the 3 outer tasks split into 2: the inner step's total sums their counts
    assert (steps["inner"]["done"], steps["inner"]["total"], steps["inner"]["foreach"]) == (
        6,
        6,
        True,
    )
    assert (steps["inner_join"]["total"], steps["inner_join"]["foreach"]) == (3, False)
    assert [steps[s]["depth"] for s in ("start", "outer", "inner", "inner_join", "end")] == [
        0, 1, 2, 3, 5
    ]  # fmt: skip


def task(step: str, task_id: str, status: str, **fields: Any) -> TaskRecord:
    return TaskRecord("F", "r", step, task_id, 0, status, 1.0, **fields)  # type: ignore[arg-type]


def test_a_foreach_total_is_known_only_once_every_split_ended() -> None:
    order = ["start", "outer", "inner"]
    edges = {"start": ["outer"], "outer": ["inner"], "inner": []}
    split = {"next_steps": ("inner",), "finished_at": 2.0}
    running = RunTasks(
        "F",
        "r",
        order,
        edges,
        {
            "start": [task("start", "s", "succeeded", foreach_count=3, next_steps=("outer",))],
            "outer": [
                task("outer", "o1", "succeeded", foreach_count=2, **split),
                task("outer", "o2", "running"),
            ],
            "inner": [task("inner", "i1", "succeeded", finished_at=2.0)],
        },
    )
    steps = by_name(steps_json(running, running=True))
    # the outer split's 3 are known; 2 of them started, 1 done
    assert (steps["outer"]["total"], steps["outer"]["caption"]) == (3, "1/3 done, 1 running")
    assert steps["outer"]["finished_at"] is None
    # o2 (and a third outer task) may still split: the inner total is the tasks seen so far
    assert (steps["inner"]["total"], steps["inner"]["done"]) == (1, 1)
    assert steps["inner"]["finished_at"] is None  # more may come, though i1 ended
    done = RunTasks(
        "F",
        "r",
        order,
        edges,
        running.tasks
        | {
            "outer": [
                task("outer", f"o{i}", "succeeded", foreach_count=i, **split) for i in (1, 2, 3)
            ]
        },
    )
    inner = by_name(steps_json(done, running=False))["inner"]
    assert (inner["total"], inner["caption"]) == (1 + 2 + 3, "1/6 done")


def test_a_run_gc_deleted_while_the_ui_runs_answers_404(ui_store: UiStore, tmp_path: Path) -> None:
    # the UI's cache holds the run's records; gc in another process deletes them
    copy = tmp_path / "store"
    shutil.copytree(ui_store.path, copy)
    ui = TestClient(create_app(UiContext(cached(open_store(str(copy))))))
    flow, run_id = "UiShowcaseFlow", ui_store.showcase
    paths = [
        f"/api/runs/{flow}/{run_id}",
        f"/api/timeline/{flow}/{run_id}",
        f"/api/runs/{flow}/{run_id}/train",
        f"/api/compare?a={flow}/{run_id}&b={flow}/{ui_store.wider}",
    ]
    for path in paths:
        get(ui, path)
    policy = Policy(keep_last=1, grace=0.0, flow=flow)
    report = collect(open_store(str(copy)), policy, now=time.time() + 10**6)
    assert report.dropped == {flow: [run_id]}
    for path in paths:
        gone = get(ui, path, 404)
        assert f"{flow}/{run_id} is not in the store" in gone["error"]


def test_a_crashed_run_s_task_and_timeline_stop_at_its_last_heartbeat(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FLOWKIT_CLOCK_SKEW_SECONDS", "0")
    store = open_store("memory://ui-crashed-timeline")
    run = store.records.create_run("CrashedFlow")
    task = store.records.start_task("CrashedFlow", run.run_id, "start")
    # the scheduler was kill -9'd: its last beat is the lease's, which ran out long ago
    beat = task.started_at + 0.01
    lease = Lease("CrashedFlow", run.run_id, beat, beat + 0.01)
    store.backend.put(layout.lease_key("CrashedFlow", run.run_id), [lease.to_bytes()])
    client = TestClient(create_app(UiContext(store)))
    time.sleep(0.1)
    summary = get(client, f"/api/runs/CrashedFlow/{run.run_id}")
    assert summary["status"] == "crashed"
    # (a heartbeat goes through a datetime: microseconds)
    assert summary["duration"] == pytest.approx(beat - run.created_at, abs=1e-5)
    shown = get(client, f"/api/runs/{task.pathspec}")
    assert shown["status"] == "running"
    assert shown["duration"] == pytest.approx(beat - task.started_at, abs=1e-5)
    tl = get(client, f"/api/timeline/CrashedFlow/{run.run_id}")
    [bar] = tl["bars"]
    assert (bar[5], bar[6]) == (None, "running")
    assert tl["now"] == pytest.approx(beat, abs=1e-5)
    assert tl["end"] == pytest.approx(beat, abs=1e-5)


def test_an_older_exception_without_a_qualified_type_reads_alike_everywhere() -> None:
    store = open_store("memory://ui-old-exception")
    run = store.records.create_run("OldFlow")
    task = store.records.start_task("OldFlow", run.run_id, "start")
    old = ExceptionInfo("ValueError", "bad input", "Traceback ...")  # no qualified_type
    store.records.finish_task(
        task.finished("failed", finished_at=task.started_at + 1, exception=old, failure="error")
    )
    store.records.end_run("OldFlow", run.run_id, "failed")
    client = TestClient(create_app(UiContext(store)))
    [failure] = get(client, f"/api/runs/OldFlow/{run.run_id}")["failures"]
    shown = get(client, f"/api/runs/{task.pathspec}")
    assert failure["exception"]["qualified_type"] == "ValueError"
    assert shown["exception"] == failure["exception"]
    assert shown["attempts"][0]["exception"] == failure["exception"]
