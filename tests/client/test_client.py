"""The Metaflow-style client over runs written through the store API."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from flowkit.client import ArtifactNotFound, Flow, Run, Step, Task
from flowkit.store import LocalBackend, NotFoundError, Store

from .conftest import Runs


def test_flow_lists_runs_newest_first(runs: Runs) -> None:
    flow = Flow("TrainFlow", store=runs.store)
    assert [r.id for r in flow.runs()] == [
        runs.running.run_id,
        runs.failed.run_id,
        runs.good.run_id,
    ]
    assert flow.latest_run is not None and flow.latest_run.id == runs.running.run_id
    latest_ok = flow.latest_successful_run
    assert latest_ok is not None and latest_ok.id == runs.good.run_id
    assert [r.id for r in flow.runs("nightly")] == [runs.good.run_id]
    assert runs.good.run_id in flow and flow[runs.good.run_id].pathspec == (
        f"TrainFlow/{runs.good.run_id}"
    )


def test_run_state_and_data(runs: Runs) -> None:
    run = Run(f"TrainFlow/{runs.good.run_id}", store=runs.store)
    assert run.successful and run.finished and run.status == "succeeded"
    assert run.user_tags == frozenset({"nightly"}) and run.parameters == {"alpha": 0.5}
    assert run.tags == run.user_tags | run.system_tags and "runtime:dev" in run.system_tags
    assert run.created_at.tzinfo is dt.UTC
    assert run.finished_at is not None and run.finished_at >= run.created_at
    assert run.data is not None and run.data.best == 1.0
    assert [s.id for s in run.graph_steps()] == ["start", "train", "end"]
    assert [s.id for s in run] == [s.id for s in run.steps()] == ["end", "train", "start"]

    failed = Run(f"TrainFlow/{runs.failed.run_id}", store=runs.store)
    assert failed.finished and not failed.successful and failed.status == "failed"
    assert failed.data is None  # it never reached its end step

    running = Run(f"TrainFlow/{runs.running.run_id}", store=runs.store)
    assert not running.finished and running.finished_at is None and running.status == "running"


def test_steps_and_tasks(runs: Runs) -> None:
    run = Run(f"TrainFlow/{runs.good.run_id}", store=runs.store)
    train = run["train"]
    tasks = list(train)
    assert len(train) == 2 and [t.index for t in tasks] == [0, 1]
    assert [t.data.model for t in tasks] == [{"c": 0.1}, {"c": 1.0}]
    assert np.array_equal(tasks[1].data.weights, np.arange(4) * 1.0)
    same = Task(tasks[0].pathspec, store=runs.store)
    assert same.data.model == {"c": 0.1} and same.successful
    assert Step(train.pathspec, store=runs.store)[tasks[1].id].data.model == {"c": 1.0}
    start = run["start"].task
    assert start.data.grid == [0.1, 1.0] and start.stdout == "loading\n" and start.stderr == ""
    assert start.origin_pathspec is None and start.exception is None


def test_task_artifacts_without_loading_values(runs: Runs) -> None:
    task = Run(f"TrainFlow/{runs.good.run_id}", store=runs.store)["train"].task
    assert sorted(a.id for a in task.artifacts) == ["model", "weights"]
    weights = task.artifacts.weights
    assert weights.type == "numpy.ndarray" and weights.size > 32 and len(weights.sha) == 64
    assert "model" in task and "nope" not in task.data
    assert task["model"].data == {"c": 0.1}
    with pytest.raises(ArtifactNotFound) as info:
        task.data.nope  # noqa: B018
    assert "has no artifact 'nope'" in str(info.value)
    assert info.value.hint == "its artifacts are: model, weights"
    assert not hasattr(task.data, "nope")


def test_retried_task_shows_its_latest_attempt(runs: Runs) -> None:
    end = Run(f"TrainFlow/{runs.good.run_id}", store=runs.store)["end"].task
    assert end.current_attempt == 1 and end.successful
    assert end.stdout == "best is 1.0\n" and end.stderr == "warning: tiny grid\n"
    assert [when.tzinfo for when, _ in end.loglines("stdout")] == [dt.UTC]
    first = Task(end.pathspec, store=runs.store, attempt=0)
    assert not first.successful and first.exception is not None
    assert str(first.exception) == "RuntimeError: attempt 0 failed"


def test_failed_task_exception(runs: Runs) -> None:
    task = Run(f"TrainFlow/{runs.failed.run_id}", store=runs.store)["train"].task
    assert not task.successful and task.finished and task.exit_code == 1
    assert task.exception is not None
    assert (task.exception.type, task.exception.message) == ("ValueError", "bad row 7")
    assert task.exception.traceback.startswith("Traceback")


def test_cloned_task_points_to_its_origin_and_keeps_its_logs(runs: Runs) -> None:
    store = runs.store
    origin = Run(f"TrainFlow/{runs.good.run_id}", store=store)["start"].task
    resumed = store.records.create_run("TrainFlow", origin_run_id=runs.good.run_id)
    store.records.clone_task(origin.record, resumed.run_id, {})
    clone = Run(f"TrainFlow/{resumed.run_id}", store=store)["start"].task
    assert clone.origin_pathspec == origin.pathspec
    assert clone.data.grid == [0.1, 1.0] and clone.stdout == "loading\n"


def test_unknown_names_are_user_errors_with_hints(runs: Runs, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError) as info:
        Flow("NoSuchFlow", store=runs.store)
    assert str(info.value).startswith("flow NoSuchFlow has no runs in the store at ")
    assert "flows there: TrainFlow" in info.value.hint
    with pytest.raises(NotFoundError, match="run TrainFlow/nope is not in the store"):
        Run("TrainFlow/nope", store=runs.store)
    run = Run(f"TrainFlow/{runs.good.run_id}", store=runs.store)
    with pytest.raises(NotFoundError) as step_info:
        run["nope"]
    assert step_info.value.hint == "its steps are: end, start, train"
    with pytest.raises(NotFoundError, match="has no task 'nope'"):
        run["train"]["nope"]
    with pytest.raises(NotFoundError, match="is not in the store"):
        Task(f"TrainFlow/{runs.good.run_id}/train/nope", store=runs.store)
    with pytest.raises(NotFoundError):
        Flow("TrainFlow", store=Store(LocalBackend(tmp_path / "empty")))


def test_store_resolved_from_settings(runs: Runs, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWKIT_STORE", runs.store.url)
    run = Flow("TrainFlow").latest_successful_run
    assert run is not None and run.data is not None and run.data.best == 1.0
    assert Run(f"TrainFlow/{runs.good.run_id}", store=runs.store.url).successful
