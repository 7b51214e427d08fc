"""Against a tracking server: the MLflow UI shows a flowkit run (screenshots for the README);
one that is down never fails a run, and ``flowkit mlflow sync`` logs the run later, once only
however often it is run; metrics sent in one batch, and one call each (figures, printed).

One test uses the server, so that each pytest-xdist worker does not start one of its own
(~30 s each on a busy machine)."""

from __future__ import annotations

import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from mlflow_flows import TrainFlow
from mlflow_support import EXPERIMENT, Quiet, Tracking, free_port
from test_mlflow_tracking import losses, runs_of

import flowkit
from flowkit.cli.main import cli
from flowkit_mlflow.sync import TAG_PATHSPEC

ROOT = Path(__file__).resolve().parents[3]
SHOTS = ROOT / "test-outputs" / "mlflow"


def a_server_that_is_down_fails_no_run_and_sync_logs_it_later(
    mlflow_server: Tracking,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    down = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    monkeypatch.setenv("MLFLOW_TRACKING_URI", down)
    model = f"ranker-{uuid.uuid4().hex[:8]}"
    store = str(tmp_path / "store")
    run = flowkit.run(TrainFlow, store=store, progress=Quiet(), epochs=2, model_name=model)
    assert run.successful
    assert "mlflow:unsynced" in run.tags and f"mlflow_experiment:{EXPERIMENT}" in run.tags
    err = capfd.readouterr().err
    said = [line for line in err.splitlines() if "the run hook 'mlflow' failed" in line]
    assert len(said) == 1, err  # once, not once per task
    assert f"logging {run.pathspec} to MLflow at {down} failed" in said[0]
    assert f"flowkit mlflow sync {run.pathspec}" in err
    # log_model said so in the task's log, and the step went on with no version
    for task in run["train"]:
        assert f"model '{model}' of {task.pathspec} was not logged to MLflow at {down}" in (
            task.stderr
        )
        assert task.data.version is None

    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.uri)
    for _ in range(2):  # the second sync finds everything there and adds nothing
        result = CliRunner().invoke(cli, ["mlflow", "sync", run.pathspec, "--store", store])
        assert result.exit_code == 0, result.output
        assert f"{run.pathspec}: 5 tasks in MLflow run " in result.output
        logged = runs_of(mlflow_server.client, run.pathspec)
        assert len(logged) == 6
        assert logged[run.pathspec].info.status == "FINISHED"
        trains = [r for p, r in logged.items() if "/train/" in p]
        assert sorted(losses(mlflow_server.client, t) for t in trains) == [
            [(0, 0.5), (1, 0.25)],
            [(0, 2.0), (1, 1.0)],
        ]
    tags = flowkit.Run(run.pathspec, store=store).tags
    assert "mlflow:unsynced" not in tags
    assert f"mlflow_run_id:{logged[run.pathspec].info.run_id}" in tags


def test_sync_of_a_server_that_is_down_says_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from plain_flow import PlainFlow

    store = str(tmp_path)
    run = flowkit.run(PlainFlow, store=store, progress=Quiet())
    down = f"http://127.0.0.1:{free_port()}"
    result = CliRunner().invoke(
        cli, ["mlflow", "sync", run.pathspec, "--store", store, "--tracking-uri", down]
    )
    assert result.exit_code == 1
    assert f"error: logging {run.pathspec} to MLflow at {down} failed" in result.output
    assert "run this again (nothing is logged twice)" in result.output
    assert "mlflow:unsynced" in flowkit.Run(run.pathspec, store=store).tags
    bad = CliRunner().invoke(cli, ["mlflow", "sync", "PlainFlow", "--store", store])
    assert bad.exit_code == 1 and "'PlainFlow' is not FLOW/RUN" in bad.output


def the_mlflow_ui_shows_a_flowkit_run(
    mlflow_server: Tracking, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow_chromium import with_chromium

    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.uri)
    model = f"ranker-{uuid.uuid4().hex[:8]}"
    run = flowkit.run(TrainFlow, store=str(tmp_path), progress=Quiet(), epochs=6, model_name=model)
    top = runs_of(mlflow_server.client, run.pathspec)[run.pathspec]
    experiment = top.info.experiment_id
    train = next(
        r for p, r in runs_of(mlflow_server.client, run.pathspec).items() if "/train/" in p
    )
    SHOTS.mkdir(parents=True, exist_ok=True)
    shots: dict[str, Path] = {}

    def shoot(browser: Any) -> None:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        for name, mlflow_run, shown in (
            ("run", top, "model_name"),  # the flowkit run: its params, tags and tasks
            ("task", train, "loss"),  # a train task: its metrics, tags and model version
        ):
            url = f"{mlflow_server.uri}/#/experiments/{experiment}/runs/{mlflow_run.info.run_id}"
            page.goto(url)
            page.get_by_text("flowkit.flow" if name == "run" else "flowkit.step").first.wait_for(
                timeout=60_000
            )
            training = page.get_by_text("Model training", exact=True)
            if training.count():  # MLflow 3's UI opens on its GenAI view: show the classic one
                training.first.click()  # (which goes to the runs' list)
                page.goto(url)
            page.get_by_text(shown).first.wait_for(timeout=60_000)
            assistant = page.locator("[aria-label='Close']")
            if assistant.count():  # the assistant's panel hides half the page
                assistant.first.click()
            time.sleep(1.0)  # charts and tables settle
            shots[name] = SHOTS / f"{name}.png"
            page.screenshot(path=str(shots[name]), full_page=True)

    with_chromium(shoot)
    for name, shot in shots.items():
        assert shot.stat().st_size > 10_000
        if os.environ.get("FLOWKIT_UPDATE_SCREENSHOTS") == "1":
            shutil.copyfile(shot, ROOT / "docs" / "images" / f"mlflow-{name}.png")


def metrics_in_one_batch_and_one_call_each(mlflow_server: Tracking) -> None:
    """The figures the README quotes (printed, not asserted): 100 metrics sent to the server in
    one log_batch, as the extension sends a task's, and in 100 log_metric calls."""
    from mlflow.entities import Metric

    client = mlflow_server.client
    experiment = client.get_experiment_by_name(EXPERIMENT).experiment_id
    figures = {}
    for how in ("batch", "each"):
        run_id = client.create_run(experiment, tags={TAG_PATHSPEC: f"bench/{how}"}).info.run_id
        stamp = int(time.time() * 1000)
        began = time.perf_counter()
        if how == "batch":
            client.log_batch(
                run_id, metrics=[Metric("loss", i / 100, stamp, i) for i in range(100)]
            )
        else:
            for i in range(100):
                client.log_metric(run_id, "loss", i / 100, stamp, i)
        figures[how] = time.perf_counter() - began
        assert len(client.get_metric_history(run_id, "loss")) == 100
    print(
        f"\n100 metrics to mlflow server: one log_batch {figures['batch'] * 1000:.0f} ms, "
        f"one log_metric each {figures['each'] * 1000:.0f} ms"
    )


@pytest.mark.slow
@pytest.mark.timeout(600)  # the server's start (~30 s on a busy machine), two runs, a browser
def test_against_a_mlflow_server(
    mlflow_server: Tracking,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    the_mlflow_ui_shows_a_flowkit_run(mlflow_server, tmp_path / "ui", monkeypatch)
    a_server_that_is_down_fails_no_run_and_sync_logs_it_later(
        mlflow_server, tmp_path / "down", monkeypatch, capfd
    )
    metrics_in_one_batch_and_one_call_each(mlflow_server)
