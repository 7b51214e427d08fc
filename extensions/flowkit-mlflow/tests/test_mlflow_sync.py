"""What MLflow refuses, what fails halfway and what runs elsewhere: metrics MLflow refuses are
dropped for their task alone, a sync stopped halfway loses nothing, a run already in MLflow is
not logged twice (nor into another experiment unasked), values that do not load here are said
so, log_model logs where the run's hook does and stores a plain object that loads anywhere.
Against the session's sqlite tracking store (review R3 #1-#8, #10, #12, #15-#17)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from mlflow_support import EXPERIMENT, Quiet, Tracking, free_port
from sync_flows import LegacyFlow, ModelFlow
from test_mlflow_tracking import runs_of

import flowkit
from flowkit.cli.main import cli
from flowkit.errors import FlowkitError
from flowkit.store import open_store
from flowkit_mlflow.sync import TAG_DROPPED, TAG_METRICS, TAG_PATHSPEC, Syncer

HERE = Path(__file__).parent


class Flaky:
    """An MlflowClient whose ``fail_on``-th log_batch call fails as a dropped connection."""

    def __init__(self, client: Any, fail_on: int) -> None:
        self.client = client
        self.fail_on = fail_on
        self.calls: list[tuple[int, list[str]]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    def log_batch(self, run_id: str, metrics: Any = (), params: Any = (), tags: Any = ()) -> None:
        self.calls.append((len(metrics), [t.key for t in tags]))
        if len(self.calls) == self.fail_on:
            raise ConnectionError("the connection dropped")
        self.client.log_batch(run_id, metrics=metrics, params=params, tags=tags)


def test_metrics_mlflow_refuses_are_dropped_for_their_task_alone(
    tracking: Tracking, tmp_path: Path
) -> None:
    """The hook logs the whole run; the task's refused metrics are named on its MLflow run."""
    run = flowkit.run(
        LegacyFlow,
        store=str(tmp_path),
        progress=Quiet(),
        with_decorators=[f"mlflow:experiment={EXPERIMENT}"],
    )
    logged = runs_of(tracking.client, run.pathspec)
    assert {r.info.status for r in logged.values()} == {"FINISHED"}
    start = logged[run["start"].task.pathspec]
    assert start.data.metrics == {"m": 2.0}  # its last value; the refused ones dropped
    assert start.data.tags[TAG_DROPPED].startswith("2: the metric name 'acc@top5'")
    assert start.data.tags["mlflow.parentRunId"] == logged[run.pathspec].info.run_id
    assert "mlflow:unsynced" not in run.tags


def test_a_sync_that_stops_halfway_loses_nothing_when_run_again(
    tracking: Tracking, tmp_path: Path
) -> None:
    """The mark that a task's metrics are in goes alone, last: a sync that stopped after the
    first 1,000 sends the rest again. A task run made before its parent (by log_model) is
    nested under it."""
    run = flowkit.run(LegacyFlow, store=str(tmp_path), progress=Quiet(), count=1500)
    store = open_store(str(tmp_path))
    record = store.records.get_run(*run.pathspec.split("/"))
    end = run["end"].task.pathspec
    experiment = tracking.client.get_experiment_by_name(EXPERIMENT).experiment_id
    orphan = tracking.client.create_run(experiment, tags={TAG_PATHSPEC: end}).info.run_id

    flaky = Flaky(tracking.client, fail_on=3)  # params, the first 1,000 with tags, the rest
    with pytest.raises(ConnectionError):
        Syncer(store, record, flaky, EXPERIMENT).everything()
    Syncer(store, record, flaky, EXPERIMENT).everything()
    marks = [i for i, (_, keys) in enumerate(flaky.calls) if TAG_METRICS in keys]
    assert [flaky.calls[i] for i in marks] == [(0, [TAG_METRICS])] * 2  # alone, every time

    logged = runs_of(tracking.client, run.pathspec)
    start = logged[run["start"].task.pathspec]
    history = tracking.client.get_metric_history(start.info.run_id, "m")
    assert sorted({m.step for m in history}) == list(range(1500))
    assert start.data.tags[TAG_METRICS] == "1500"
    assert logged[end].info.run_id == orphan
    assert logged[end].data.tags["mlflow.parentRunId"] == logged[run.pathspec].info.run_id


def test_sync_finds_the_run_it_linked_and_says_what_it_could_not_do(
    tracking: Tracking, tmp_path: Path
) -> None:
    store = str(tmp_path)
    run = flowkit.run(LegacyFlow, store=store, progress=Quiet())
    sync = ["mlflow", "sync", run.pathspec, "--store", store]
    first = CliRunner().invoke(cli, [*sync, "--experiment", EXPERIMENT])
    assert first.exit_code == 0, first.output
    linked = {t for t in flowkit.Run(run.pathspec, store=store).tags if t.startswith("mlflow")}
    top = runs_of(tracking.client, run.pathspec)[run.pathspec].info.run_id
    assert linked == {f"mlflow_run_id:{top}", f"mlflow_experiment:{EXPERIMENT}"}

    other = f"other-{uuid.uuid4().hex[:8]}"
    refused = CliRunner().invoke(cli, [*sync, "--experiment", other])
    assert refused.exit_code == 1
    assert f"is in MLflow already, as run {top} of the experiment '{EXPERIMENT}'" in (
        refused.output
    )
    assert "--copy" in refused.output
    assert tracking.client.get_experiment_by_name(other) is None  # nothing made there

    again = CliRunner().invoke(cli, sync)  # found by its link: nothing new
    assert again.exit_code == 0, again.output
    assert len(runs_of(tracking.client, run.pathspec)) == 3

    down = f"http://127.0.0.1:{free_port()}"
    failed = CliRunner().invoke(cli, [*sync, "--tracking-uri", down])
    assert failed.exit_code == 1
    assert f"once MLflow is reachable at {down}: run this again" in failed.output
    tags = flowkit.Run(run.pathspec, store=store).tags
    assert "mlflow:unsynced" not in tags and f"mlflow_run_id:{top}" in tags  # still linked
    errors = [t for t in tags if t.startswith("mlflow_error:")]
    assert len(errors) == 1 and "MlflowException" in errors[0]  # kept, shown by flowkit show
    shown = CliRunner().invoke(cli, ["show", run.pathspec, "--store", store])
    assert errors[0] in shown.output

    copied = CliRunner().invoke(cli, [*sync, "--experiment", other, "--copy"])
    assert copied.exit_code == 0, copied.output
    tags = flowkit.Run(run.pathspec, store=store).tags
    made = tracking.client.get_experiment_by_name(other)
    copy = tracking.client.search_runs(
        [made.experiment_id], filter_string=f"tags.`{TAG_PATHSPEC}` = '{run.pathspec}'"
    )[0]
    assert {t for t in tags if t.startswith("mlflow")} == {
        f"mlflow_run_id:{copy.info.run_id}",
        f"mlflow_experiment:{other}",
    }  # replaced, not piled up; the error is gone with a sync that worked

    tracking.client.delete_experiment(made.experiment_id)
    gone = CliRunner().invoke(cli, [*sync, "--experiment", other, "--copy"])
    assert gone.exit_code == 1
    assert "MLflow at" in gone.output and "refused it" in gone.output, gone.output


def test_values_that_do_not_load_here_are_said_so(tracking: Tracking, tmp_path: Path) -> None:
    """sync --values from a folder where the flow's module is not: the value says why."""
    store = str(tmp_path / "store")
    run = flowkit.run(LegacyFlow, store=store, progress=Quiet())
    args = ["--store", store, "--experiment", EXPERIMENT, "--values"]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, "-m", "flowkit.cli.main", "mlflow", "sync", run.pathspec, *args],
        cwd="/",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    start = runs_of(tracking.client, run.pathspec)[run["start"].task.pathspec]
    said = start.data.tags["flowkit.value.point"]
    assert said.startswith("(not loadable here: ModuleNotFoundError: No module named 'sync_flows'")


@pytest.mark.slow
@pytest.mark.timeout(300)  # the task imports MLflow (seconds); the model loads in another Python
def test_log_model_logs_where_the_hook_does_a_model_that_loads_anywhere(
    sqlite_store: Tracking, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No MLFLOW_TRACKING_URI: the hook's tracking_uri and experiment are log_model's too."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    name = f"scaler-{uuid.uuid4().hex[:8]}"
    run = flowkit.run(
        ModelFlow,
        store=str(tmp_path / "store"),
        progress=Quiet(),
        model_name=name,
        with_decorators=[f"mlflow:experiment={EXPERIMENT},tracking_uri={sqlite_store.uri}"],
    )
    version = run["start"].task.data.version
    assert version == "1"
    logged = runs_of(sqlite_store.client, run.pathspec)
    start = logged[run["start"].task.pathspec]
    assert start.data.tags["mlflow.parentRunId"] == logged[run.pathspec].info.run_id
    assert not (tmp_path / "mlflow.db").exists() and not (tmp_path / "mlruns").exists()
    assert "not logged to MLflow" not in run["start"].task.stderr
    assert "UserWarning" not in run["start"].task.stderr  # no warning about predict's hints
    code = (
        "import mlflow\n"
        f"mlflow.set_tracking_uri({sqlite_store.uri!r})\n"
        f"model = mlflow.pyfunc.load_model('models:/{name}/1')\n"
        "print(model.predict([1.0, 2.0]))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd="/", env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[3.0, 6.0]"


def test_log_model_refuses_what_no_flavor_fits_and_calls_outside_a_step() -> None:
    from flowkit.authoring.current import TaskContext, bound
    from flowkit_mlflow import log_model

    with pytest.raises(FlowkitError, match=r"log_model\(name='m'\) is called outside a running"):
        log_model(object(), name="m")
    with (
        bound(TaskContext("F", "1", "start", "1")),
        pytest.raises(FlowkitError, match=r"is a function with no predict method"),
    ):
        log_model(lambda x: x, name="m")


def test_quick_settings_are_this_threads_alone() -> None:
    """MLflow's retries are cut for the hook's calls without touching os.environ, which a task
    or worker started meanwhile by another thread would inherit."""
    from mlflow.environment_variables import MLFLOW_HTTP_REQUEST_MAX_RETRIES as retries

    from flowkit_mlflow.connect import quick

    default = retries.get()
    seen: list[Any] = []
    with quick():
        assert retries.get() == 1
        assert "MLFLOW_HTTP_REQUEST_MAX_RETRIES" not in os.environ
        other = threading.Thread(target=lambda: seen.append(retries.get()))
        other.start()
        other.join()
    assert seen == [default] and retries.get() == default


@pytest.mark.parametrize(
    ("given", "said"),
    [
        ("mlflow:experimnet=x", r"does not take the arguments \{'experimnet': 'x'\}"),
        ("mlflow:values=no", r"takes values as true or false, not 'no'"),
        ("mlflow:experiment=", r"takes experiment as a non-empty string, not ''"),
        ("mlflow:tracking_uri=5", r"takes tracking_uri as a non-empty string, not 5"),
    ],
)
def test_hook_arguments_are_checked_before_the_run_exists(
    tmp_path: Path, given: str, said: str
) -> None:
    with pytest.raises(FlowkitError, match=said):
        flowkit.run(LegacyFlow, store=str(tmp_path), progress=Quiet(), with_decorators=[given])
    assert open_store(str(tmp_path)).records.list_flows() == []


@pytest.mark.slow
@pytest.mark.timeout(180)  # the scheduler's process imports MLflow (seconds)
def test_a_cancelled_run_and_its_killed_task_end_killed(tracking: Tracking, tmp_path: Path) -> None:
    import signal
    import time

    store = tmp_path / "store"
    tracked = ["--with", f"mlflow:experiment={EXPERIMENT}"]
    process = subprocess.Popen(
        [sys.executable, str(HERE / "sleep_flow.py"), "run", "--store", str(store), *tracked],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    opened = open_store(str(store))
    deadline = time.monotonic() + 120
    while True:  # the task is running, and its run is in MLflow (the hook's first call)
        runs = opened.records.list_runs("SleepFlow") if (store / "runs").exists() else []
        tasks = opened.records.list_tasks("SleepFlow", runs[0], "start") if runs else []
        if (
            tasks
            and tasks[0].status == "running"
            and runs_of(tracking.client, f"SleepFlow/{runs[0]}")
        ):
            break
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    logged = runs_of(tracking.client, f"SleepFlow/{runs[0]}")
    assert {p: r.info.status for p, r in logged.items()} == {
        f"SleepFlow/{runs[0]}": "KILLED",
        f"SleepFlow/{runs[0]}/start/{tasks[0].task_id}": "KILLED",
    }


def test_log_model_in_a_run_mlflow_does_not_track_says_where_it_goes(
    tracking: Tracking, capfd: pytest.CaptureFixture[str]
) -> None:
    from sync_flows import Scaler

    from flowkit.authoring.current import TaskContext, bound
    from flowkit_mlflow import log_model

    with bound(TaskContext("Untracked", "1", "start", "2")):
        assert log_model(Scaler(2), name="m", register=False, experiment=EXPERIMENT) is None
    err = capfd.readouterr().err
    assert "log_model('m') in Untracked/1/start/2, a run MLflow does not track" in err
    assert f"the model goes to {tracking.uri} in an MLflow run of its own" in err
    assert "not logged to MLflow" not in err
