"""Fixtures for the MLflow tests: real MLflow, with a sqlite tracking store in a temporary folder
(one per session), and one ``mlflow server`` on 127.0.0.1 for the session's end-to-end tests.

The plain-folder store is not used: MLflow refuses it unless ``MLFLOW_ALLOW_FILE_STORE=true``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from mlflow_support import EXPERIMENT, Tracking, free_port

from flowkit.testing.services import stop_group


def _prepared(uri: str, artifacts: Path) -> Tracking:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    if client.get_experiment_by_name(EXPERIMENT) is None:
        # artifacts (log_model's) go to the test's folder, not ./mlruns wherever a task runs
        client.create_experiment(EXPERIMENT, artifact_location=artifacts.as_uri())
    return Tracking(uri, client)


@pytest.fixture(scope="session")
def sqlite_store(tmp_path_factory: pytest.TempPathFactory) -> Tracking:
    folder = tmp_path_factory.mktemp("mlflow-sqlite")
    return _prepared(f"sqlite:///{folder / 'mlflow.db'}", folder / "artifacts")


@pytest.fixture
def tracking(sqlite_store: Tracking, monkeypatch: pytest.MonkeyPatch) -> Tracking:
    """The session's sqlite store, named by MLFLOW_TRACKING_URI in this process (and so in the
    tasks it starts)."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", sqlite_store.uri)
    return sqlite_store


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tracking]:
    """``mlflow server`` on 127.0.0.1 with a sqlite backend and served artifacts."""
    folder = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (folder / "server.log").open("wb")
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "mlflow"),
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--backend-store-uri",
            f"sqlite:///{folder / 'mlflow.db'}",
            "--artifacts-destination",
            str(folder / "artifacts"),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env={
            **os.environ,
            "MLFLOW_TRACKING_URI": "",
            # no job runner: it starts one Python process and three huey consumers beside the
            # server, for MLflow's GenAI jobs (scorers, trace rollups) that no test here asks
            # for; they cost the busy machine seconds of CPU at start and the server's SIGTERM
            # the whole of stop_group's grace (10 s) at the end
            "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
        },
    )
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    f"mlflow server did not start on {url}: "
                    + (folder / "server.log").read_text()[-3000:]
                )
            time.sleep(0.25)
        from mlflow.tracking import MlflowClient

        client = MlflowClient(tracking_uri=url, registry_uri=url)
        if client.get_experiment_by_name(EXPERIMENT) is None:
            client.create_experiment(EXPERIMENT)  # artifacts: the server's (proxied)
        yield Tracking(url, client)
    finally:
        stop_group(process)
        log.close()
