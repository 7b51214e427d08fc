"""A flowkit run in MLflow: one run per flowkit run, a nested run per task (foreach ones
included) with its metrics and its artifacts' names, types and sizes, the parameters as params,
model versions registered from a step, and the statuses flowkit ended with."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from mlflow_flows import TrainFlow
from mlflow_support import EXPERIMENT, Quiet, Tracking
from plain_flow import PlainFlow

import flowkit
from flowkit.runtime.api import RunFailed
from flowkit_mlflow.sync import TAG_CLONE, TAG_PATHSPEC


def runs_of(client: Any, pathspec_prefix: str) -> dict[str, Any]:
    """Every MLflow run of the test experiment whose flowkit pathspec starts with the prefix."""
    experiment = client.get_experiment_by_name(EXPERIMENT)
    found = client.search_runs(
        [experiment.experiment_id],
        filter_string=f"tags.`{TAG_PATHSPEC}` LIKE '{pathspec_prefix}%'",
        max_results=1000,
    )
    by_pathspec: dict[str, Any] = {}
    for run in found:
        pathspec = run.data.tags[TAG_PATHSPEC]
        assert pathspec not in by_pathspec, f"{pathspec} is in MLflow twice"
        by_pathspec[pathspec] = run
    return by_pathspec


def losses(client: Any, run: Any) -> list[tuple[int, float]]:
    history = client.get_metric_history(run.info.run_id, "loss")
    return sorted((m.step, m.value) for m in history)


@pytest.mark.slow
@pytest.mark.timeout(300)  # the warm worker imports MLflow and scikit-learn (seconds)
def test_a_foreach_training_run_is_in_mlflow(tracking: Tracking, tmp_path: Path) -> None:
    model = f"ranker-{uuid.uuid4().hex[:8]}"
    run = flowkit.run(TrainFlow, store=str(tmp_path), progress=Quiet(), epochs=3, model_name=model)
    logged = runs_of(tracking.client, run.pathspec)
    top = logged.pop(run.pathspec)
    assert top.info.status == "FINISHED"
    assert top.info.run_name == run.id
    assert top.data.params == {"epochs": "3", "gate": "", "model_name": model}
    tasks = {p.split("/", 2)[2]: r for p, r in logged.items()}
    assert sorted(p.split("/")[0] for p in tasks) == ["end", "join", "start", "train", "train"]
    for name, task in tasks.items():
        assert task.data.tags["mlflow.parentRunId"] == top.info.run_id, name
        assert task.info.status == "FINISHED", name
        assert task.info.run_name == name
    trains = {
        t.data.tags["flowkit.foreach_index"]: t for n, t in tasks.items() if n.startswith("train")
    }
    for index, rate in (("0", 0.5), ("1", 2.0)):
        assert losses(tracking.client, trains[index]) == [(e, rate / (e + 1)) for e in range(3)]
        assert trains[index].data.metrics["rate"] == rate
        kind, size = trains[index].data.tags["flowkit.artifact.model"].split(", ")
        assert kind == "sklearn.linear_model._base.LinearRegression" and size.endswith(" B")
        assert "flowkit.value.model" not in trains[index].data.tags  # values only when asked
    # each train task registered a version, tagged with it; the step kept the version it got
    versions = tracking.client.search_model_versions(f"name='{model}'")
    by_task = {v.tags[TAG_PATHSPEC]: str(v.version) for v in versions}
    assert sorted(by_task) == sorted(t.data.tags[TAG_PATHSPEC] for t in trains.values())
    for task in run["train"]:
        assert by_task[task.pathspec] == task.data.version
    assert run["join"].task.data.versions == sorted(by_task.values())
    assert f"mlflow_run_id:{top.info.run_id}" in run.tags
    assert "mlflow:unsynced" not in run.tags


@pytest.mark.slow
@pytest.mark.timeout(300)  # the warm worker imports MLflow and scikit-learn (seconds)
def test_a_failed_run_and_its_resume_log_no_metric_twice(
    tracking: Tracking, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    gate.write_text("closed")
    model = f"ranker-{uuid.uuid4().hex[:8]}"
    store = str(tmp_path / "store")
    with pytest.raises(RunFailed):
        flowkit.run(
            TrainFlow, store=store, progress=Quiet(), epochs=2, gate=str(gate), model_name=model
        )
    first = flowkit.Flow("TrainFlow", store=store).latest_run
    logged = runs_of(tracking.client, first.pathspec)
    assert logged[first.pathspec].info.status == "FAILED"
    join = next(r for p, r in logged.items() if "/join/" in p)
    assert join.info.status == "FAILED"
    with pytest.raises(RunFailed):  # resumed with the gate still closed: fails again
        flowkit.resume(TrainFlow, store=store, progress=Quiet())
    middle = flowkit.Flow("TrainFlow", store=store).latest_run
    gate.unlink()
    resumed = flowkit.resume(TrainFlow, store=store, progress=Quiet())  # a resume's resume
    again = runs_of(tracking.client, resumed.pathspec)
    assert again[resumed.pathspec].info.status == "FINISHED"
    assert again[resumed.pathspec].data.tags["flowkit.origin_run_id"] == middle.id
    every = {**logged, **runs_of(tracking.client, middle.pathspec), **again}
    for run in (middle, resumed):
        clones = {p: r for p, r in every.items() if p.startswith(run.pathspec + "/")}
        clones = {p: r for p, r in clones.items() if TAG_CLONE in r.data.tags}
        assert sorted(p.split("/")[2] for p in clones) == ["start", "train", "train"]
        for pathspec, clone in clones.items():
            assert clone.data.metrics == {}, pathspec  # its origin's run has them, once
            assert clone.data.tags[TAG_CLONE] in every, pathspec
    trains = [r for p, r in every.items() if "/train/" in p and TAG_CLONE not in r.data.tags]
    assert [len(losses(tracking.client, t)) for t in trains] == [2, 2]  # logged once, in all
    # no model registered twice: the cloned train tasks did not run again
    assert len(tracking.client.search_model_versions(f"name='{model}'")) == 2


def test_a_run_without_tracking_imports_no_mlflow(tmp_path: Path) -> None:
    """In a fresh interpreter with the extension installed: a run that does not enable it never
    imports mlflow, nor does importing flowkit or flowkit_mlflow."""
    import subprocess
    import sys

    code = (
        "import sys, flowkit, flowkit_mlflow\n"
        "assert 'mlflow' not in sys.modules\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "from plain_flow import PlainFlow\n"
        f"run = flowkit.run(PlainFlow, store={str(tmp_path)!r})\n"
        "assert run.successful\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'mlflow'))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_with_mlflow_tracks_a_flow_without_track(tracking: Tracking, tmp_path: Path) -> None:
    run = flowkit.run(
        PlainFlow,
        store=str(tmp_path),
        progress=Quiet(),
        with_decorators=[f"mlflow:experiment={EXPERIMENT}"],
    )
    logged = runs_of(tracking.client, run.pathspec)
    assert sorted(logged) == sorted(
        [run.pathspec, run["start"].task.pathspec, run["end"].task.pathspec]
    )
    assert logged[run["start"].task.pathspec].data.metrics == {"seen": 1.0}


def test_the_hooks_setting_tracks_every_run_with_values_when_asked(
    tracking: Tracking, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "FLOWKIT_HOOKS", f'{{"mlflow": {{"experiment": "{EXPERIMENT}", "values": true}}}}'
    )
    run = flowkit.run(PlainFlow, store=str(tmp_path), progress=Quiet())
    start = runs_of(tracking.client, run.pathspec)[run["start"].task.pathspec]
    assert start.data.tags["flowkit.artifact.greeting"] == "str, 20 B"
    assert start.data.tags["flowkit.value.greeting"] == "hello"


def test_track_refuses_what_is_not_an_experiment_name() -> None:
    from flowkit.errors import FlowkitError
    from flowkit_mlflow import track

    with pytest.raises(
        FlowkitError, match=r"@track\(experiment=''\): the experiment is a non-empty string"
    ):
        track(experiment="")
