"""Exported DAGs run by real Airflow (``airflow dags test`` on sqlite, from the virtual
environment scripts/install-test-services.sh makes), then read back and resumed with
flowkit: the records a run under Airflow writes are the ones a local run writes.

Airflow only runs tasks here: no scheduler, no API server, nothing listens (``dags test``
executes in its own process). One AIRFLOW_HOME, migrated once, serves the test session, its
pytest-xdist workers included; the three DAG runs the tests read are ``airflow dags test``
commands run one after another in one Airflow process (airflow_dags_batch.py), once for the
session, each test reading its own: a fresh ``airflow`` costs ~15 s of start-up on a busy
machine, for runs of a few seconds.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest

from flowkit.client import Flow, Run
from flowkit.store import open_store
from tests.browser import fail_or_skip

# Airflow starts slowly (~5 s a command, ~1 s a task), and the first test also migrates the
# database and runs the DAGs: far past the suite's default timeout on a busy machine
pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

FLOWS = Path(__file__).parent / "flows"
VENV = Path(os.environ.get("FLOWKIT_AIRFLOW_VENV", "/opt/flowkit-airflow"))
BATCH = Path(__file__).parent / "airflow_dags_batch.py"
T = TypeVar("T")

#: The DAG runs the tests read: dag_id -> (the run's conf, the environment of its tasks).
RUNS: dict[str, tuple[dict[str, object] | None, dict[str, str]]] = {
    "UnevenFlow": ({"shift_by": 100}, {}),
    "FailingFlow": (None, {"FLOWKIT_TEST_BREAK": "1"}),
    "SwitchFlow": (None, {}),
}


@dataclass(frozen=True)
class DagsTest:
    """What ``airflow dags test DAG_ID`` ended with: its exit status and its output."""

    returncode: int
    output: str


@dataclass(frozen=True)
class Airflow:
    env: dict[str, str]
    dags: Path
    store: Path

    def export(self, flow_file: str, target: Path | None = None) -> None:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "flowkit",
                "airflow",
                "create",
                str(FLOWS / flow_file),
                "-o",
                str(target or self.dags / flow_file),
                "--store",
                str(self.store),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr

    def dags_tests(self, logs: Path) -> dict[str, DagsTest]:
        """``airflow dags test`` of each DAG in RUNS, in one Airflow process."""
        logs.mkdir(exist_ok=True)
        runs = [
            {"dag_id": dag_id, "conf": conf, "env": env, "log": str(logs / f"{dag_id}.log")}
            for dag_id, (conf, env) in RUNS.items()
        ]
        done = subprocess.run(
            [str(VENV / "bin" / "python"), str(BATCH), json.dumps(runs)],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=500,
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        statuses = json.loads(done.stdout.splitlines()[-1])
        return {
            run["dag_id"]: DagsTest(status, Path(run["log"]).read_text(errors="replace"))
            for run, status in zip(runs, statuses, strict=True)
        }


@pytest.fixture(scope="session")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of this test session that its pytest-xdist workers share (each worker has a
    session, and a base temporary folder, of its own: their parent is the run's)."""
    base = tmp_path_factory.getbasetemp()
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    return root / "airflow-runs"


@contextmanager
def locked(folder: Path) -> Iterator[None]:
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{folder}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def once(
    folder: Path, make: Callable[[], T], dump: Callable[[T], str], load: Callable[[str], T]
) -> T:
    """``make()``, made by the first worker of the session to ask and read by the others from
    ``folder``: what it raised, too (each worker's tests fail with it, none makes it again)."""
    with locked(folder):
        made, failed = folder / "made.json", folder / "failed.txt"
        if failed.exists():
            pytest.fail(
                f"another worker of this session failed to make {folder.name}: "
                + failed.read_text()
            )
        if made.exists():
            return load(made.read_text())
        folder.mkdir(parents=True, exist_ok=True)
        try:
            value = make()
        except BaseException as exc:
            failed.write_text(f"{type(exc).__name__}: {exc}")
            raise
        made.write_text(dump(value))
        return value


@pytest.fixture(scope="session")
def airflow(shared: Path) -> Airflow:
    if not (VENV / "bin" / "airflow").exists():
        fail_or_skip(f"Airflow is not installed in {VENV} (scripts/install-test-services.sh)")
    home = shared / "home"

    def make() -> Airflow:
        (home / "dags").mkdir(parents=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "FLOWKIT_"))}
        env.update(
            AIRFLOW_HOME=str(home),
            AIRFLOW__CORE__DAGS_FOLDER=str(home / "dags"),
            AIRFLOW__CORE__LOAD_EXAMPLES="False",
            AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home / 'airflow.db'}",
            # nothing leaves the machine: no usage reports
            AIRFLOW__USAGE_DATA_COLLECTION__ENABLED="False",
            SCARF_ANALYTICS="false",
            DO_NOT_TRACK="true",
            # the DAG's tasks run flowkit with this interpreter (baked in at export, too)
            FLOWKIT_PYTHON=sys.executable,
        )
        migrated = subprocess.run(
            [str(VENV / "bin" / "airflow"), "db", "migrate"],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert migrated.returncode == 0, migrated.stdout[-3000:] + migrated.stderr[-3000:]
        made = Airflow(env, home / "dags", home / "store")
        for flow_file in ("failing_flow.py", "switch_flow.py", "uneven_flow.py"):
            made.export(flow_file)
        return made

    return once(
        home,
        make,
        lambda made: json.dumps({"env": made.env}),
        lambda text: Airflow(json.loads(text)["env"], home / "dags", home / "store"),
    )


@pytest.fixture(scope="session")
def dags_tests(airflow: Airflow, shared: Path) -> dict[str, DagsTest]:
    """The session's ``airflow dags test`` of each DAG in RUNS (made by the first worker that
    needs them, read by the others)."""
    folder = shared / "dags-tests"
    return once(
        folder,
        lambda: airflow.dags_tests(folder / "logs"),
        lambda done: json.dumps({k: [v.returncode, v.output] for k, v in done.items()}),
        lambda text: {k: DagsTest(*v) for k, v in json.loads(text).items()},
    )


def latest(airflow: Airflow, flow: str) -> Run:
    run = Flow(flow, store=str(airflow.store)).latest_run
    assert run is not None
    return run


def test_an_uneven_split_with_a_foreach_in_a_branch_runs_with_flowkits_records(
    airflow: Airflow, dags_tests: dict[str, DagsTest]
) -> None:
    """A foreach (mapped tasks, a fan-in) beside a shorter branch, whose DAG Airflow could
    not load when its tasks were written breadth-first; a parameter given as conf."""
    done = dags_tests["UnevenFlow"]
    assert done.returncode == 0, done.output[-8000:]
    run = latest(airflow, "UnevenFlow")
    assert run.successful
    assert run.data.shift_by == 100
    assert run["a2"].task.data.value == 21
    assert sorted((t.index, t.data.square) for t in run["body"]) == [(0, 1), (1, 4), (2, 9)]
    assert sorted(t.data.square for t in run["body2"]) == [101, 104, 109]
    assert run["join"].task.data.values == [21, 314]
    assert run["end"].task.data.total == 335
    # each mapped task's output is in flowkit's store, as a local run's is
    logs = {t.index: t.stdout for t in run["body"]}
    assert {i: f"body of item {i + 1}: {(i + 1) ** 2}" in logs[i] for i in logs} == {
        0: True, 1: True, 2: True
    }  # fmt: skip
    # the run names the DAG and the DAG run that executed it
    tags = {t for t in run.system_tags if t.startswith("airflow:")}
    assert "airflow:dag:UnevenFlow" in tags
    assert any(t.startswith("airflow:dag_run:manual__") for t in tags)


def test_a_failing_run_fails_the_dag_and_resumes_locally(
    airflow: Airflow, dags_tests: dict[str, DagsTest]
) -> None:
    done = dags_tests["FailingFlow"]  # its tasks ran with FLOWKIT_TEST_BREAK=1
    assert done.returncode != 0  # the DAG run failed, and `airflow dags test` says so
    run = latest(airflow, "FailingFlow")
    assert not run.successful
    store = open_store(airflow.store)
    assert store.leases.run_state(run.record) == "failed"
    (work,) = list(run["work"])
    attempts = store.records.task_attempts("FailingFlow", run.id, "work", work.id)
    # @retry(times=1): Airflow retried once, as flowkit's attempt 1 of the same task
    assert [(a.attempt, a.status) for a in attempts] == [(0, "failed"), (1, "failed")]
    assert attempts[-1].exception is not None
    assert "broken on purpose" in str(attempts[-1].exception)
    assert "end" not in [s.id for s in run]
    # resumed with flowkit, here: start is cloned, work runs again and succeeds
    resumed = subprocess.run(
        [sys.executable, str(FLOWS / "failing_flow.py"), "resume", "--origin-run-id", run.id],
        env={**os.environ, "FLOWKIT_STORE": str(airflow.store), "FLOWKIT_TEST_BREAK": ""},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert resumed.returncode == 0, resumed.stderr
    again = latest(airflow, "FailingFlow")
    assert again.id != run.id and again.successful
    assert again["work"].task.data.result == 10
    start = store.records.list_tasks("FailingFlow", again.id, "start")[0]
    assert start.origin_pathspec is not None and f"/{run.id}/start/" in start.origin_pathspec


def test_a_switch_skips_the_case_not_taken(
    airflow: Airflow, dags_tests: dict[str, DagsTest]
) -> None:
    """The case not taken is skipped and where the cases meet still runs (the taken case's
    branch and trigger rules are checked on the DAG's text in test_dag_text: one real run
    here, as each costs Airflow's start-up)."""
    skipped = dags_tests["SwitchFlow"]
    assert skipped.returncode == 0, skipped.output[-8000:]
    run = latest(airflow, "SwitchFlow")
    assert run.successful
    assert sorted(s.id for s in run) == ["end", "start"]
    assert run["end"].task.data.finished is True


def test_the_daily_pipeline_parses_and_an_events_payload_gives_parameters(
    airflow: Airflow, tmp_path: Path
) -> None:
    examples = Path(__file__).parents[2] / "examples" / "daily_pipeline"
    folder = tmp_path / "dags"
    for name in ("ingest", "features", "train", "evaluate"):
        airflow.export(str(examples / f"{name}.py"), folder / f"{name}.py")
    checked = subprocess.run(
        [
            str(VENV / "bin" / "python"),
            str(Path(__file__).parent / "airflow_event_check.py"),
            str(folder),
            str(folder / "train.py"),
        ],
        env=airflow.env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert checked.returncode == 0, checked.stderr[-3000:]
    found = json.loads(checked.stdout.splitlines()[-1])
    assert found["errors"] == {}
    assert found["dags"] == {
        "IngestFlow": "CronTriggerTimetable",
        "FeaturesFlow": "AssetTriggeredTimetable",
        "TrainFlow": "AssetTriggeredTimetable",
        "EvaluateFlow": "AssetTriggeredTimetable",
    }
    # scheduled or triggered: one run at a time (overlap="skip")
    assert set(found["max_active_runs"].values()) == {1}
    # each flow parameter is a param of the DAG, with its default (Airflow's trigger form)
    assert found["params"]["TrainFlow"] == {"reason": "new features"}
    assert found["params"]["IngestFlow"] == {"rows": 200}
    # the latest drift_detected event's payload, mapped as @trigger says; none: no parameters
    assert found["parameters"] == {"reason": "input mean moved"}
    assert found["none"] == {}
    # what the start task passes on for current.trigger, read from Airflow's own event objects
    assert [(t["uri"].rstrip("/"), t["extra"]) for t in found["triggers"]] == [
        ("flowkit-event://drift_detected", {"reason": "old"}),
        ("flowkit-event://drift_detected", {"reason": "input mean moved", "other": 1}),
    ]
    assert found["triggers"][1]["at"] == 1796004000.0
