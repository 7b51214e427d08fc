"""``python -m flowkit.export.airflow_task``, driven as an exported DAG's tasks drive it but
without Airflow: what each command prints and exits with, and the records it writes."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from flowkit.authoring.loader import load_flow_file
from flowkit.export.airflow_step import FAILED_STATUS, RETRY_STATUS
from flowkit.export.airflow_task import RESULT_PREFIX, main
from flowkit.store import Store, open_store
from flowkit.store.deadletters import list_letters
from flowkit.task.code import code_ref_for

FLOWS = Path(__file__).parent / "flows"


def call(capfd: pytest.CaptureFixture[str], *args: str, given: Any = None) -> tuple[int, Any, str]:
    """The command's exit status, the result it printed (None if none) and its stderr;
    ``given``: its JSON input."""
    status = main(list(args), json.dumps(given))
    out, err = capfd.readouterr()
    results = [
        line[len(RESULT_PREFIX) :] for line in out.splitlines() if line.startswith(RESULT_PREFIX)
    ]
    return status, json.loads(results[-1]) if results else None, err


@pytest.fixture
def started(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> tuple[Store, dict[str, Any]]:
    store = open_store(tmp_path / "store")
    code = code_ref_for(load_flow_file(FLOWS / "policy_flow.py"), store)
    status, run, _ = call(
        capfd,
        "start",
        store.url,
        json.dumps(asdict(code)),
        str(FLOWS / "policy_flow.py"),
        "",
        given={"conf": {}, "dag_id": "PolicyFlow", "dag_run_id": "manual__2026-01-02"},
    )
    assert status == 0
    return store, run


def test_timeout_catch_and_retry_as_a_local_run_records_them(
    started: tuple[Store, dict[str, Any]], capfd: pytest.CaptureFixture[str]
) -> None:
    store, run = started
    where = (run["store"], run["run"])
    status, start, _ = call(capfd, "step", *where, "start", "", "1", "1", given=[])
    assert status == 0 and start["step"] == "start" and start["next"] == ["slow", "caught", "flaky"]

    # @timeout(seconds=3): killed at its timeout, recorded so, no retry left: dead-lettered
    status, slow, err = call(capfd, "step", *where, "slow", "", "1", "1", given=[start])
    assert status == FAILED_STATUS
    record = store.records.get_task(run["flow"], run["run_id"], "slow", slow["task_id"])
    assert (record.status, record.failure) == ("failed", "timeout")
    assert "@timeout of 3s" in str(record.exception)
    # killed, not left sleeping in its own session (unless the worker was killed before the
    # task began: on a busy machine it may take that long to start, and its record is then
    # written here)
    assert record.pid == os.getpid() or gone(record.pid)
    assert "slow" in err and "failed" in err
    letters = [letter.pathspec for letter in list_letters(store)]
    assert letters == [f"{run['flow']}/{run['run_id']}/slow/{slow['task_id']}"]

    # @catch: the failure is stored in `problem` and the task counts as done
    status, caught, _ = call(capfd, "step", *where, "caught", "", "1", "1", given=[start])
    assert status == 0
    attempts = store.records.task_attempts(run["flow"], run["run_id"], "caught", caught["task_id"])
    assert [a.status for a in attempts] == ["failed", "caught"]

    # @retry(times=1): the first try exits for Airflow to retry; the retry is attempt 1
    status, _, _ = call(capfd, "step", *where, "flaky", "", "1", "1", given=[start])
    assert status == RETRY_STATUS
    status, flaky, _ = call(capfd, "step", *where, "flaky", "", "2", "1", given=[start])
    assert status == 0 and flaky["attempt"] == 1
    # Airflow running the task once more (a cleared task) runs nothing again
    status, again, _ = call(capfd, "step", *where, "flaky", "", "3", "1", given=[start])
    assert status == 0 and again == flaky
    assert (
        len(store.records.task_attempts(run["flow"], run["run_id"], "flaky", flaky["task_id"])) == 2
    )

    # slow failed for good (a timeout, no @retry): Airflow running it again (its task
    # cleared) starts no attempt after its final one
    status, result, err = call(capfd, "step", *where, "slow", "", "2", "2", given=[start])
    assert (status, result) == (2, None)
    assert f"task {run['flow']}/{run['run_id']}/slow/{slow['task_id']} failed for good" in err
    assert "resume --origin-run-id" in err
    assert (
        len(store.records.task_attempts(run["flow"], run["run_id"], "slow", slow["task_id"])) == 1
    )

    # the join cannot run (slow failed); the end task records the run as failed
    status, ended, err = call(capfd, "end", *where, given=None)
    assert status == 1 and ended["status"] == "failed"
    assert f"task {run['flow']}/{run['run_id']}/slow/{slow['task_id']} failed" in err
    assert store.records.get_run_end(run["flow"], run["run_id"]).status == "failed"
    # the run names the DAG run that executed it
    record = store.records.get_run(run["flow"], run["run_id"])
    assert {"airflow:dag:PolicyFlow", "airflow:dag_run:manual__2026-01-02"} <= set(
        record.system_tags
    )

    # an ended run runs nothing more: clearing a task in Airflow does not recover it
    status, result, err = call(capfd, "step", *where, "caught", "", "2", "2", given=[start])
    assert (status, result) == (2, None)
    assert f"run {run['flow']}/{run['run_id']} has ended (failed)" in err
    assert "resume --origin-run-id" in err and "clearing tasks in Airflow" in err


def test_a_run_key_the_store_lacks_is_a_clear_error(
    started: tuple[Store, dict[str, Any]], capfd: pytest.CaptureFixture[str]
) -> None:
    store, _ = started
    status, result, err = call(capfd, "step", store.url, "0" * 64, "start", "", "1", "1", given=[])
    assert (status, result) == (2, None)
    assert f"no flowkit run '{'0' * 64}' for Airflow in the store at {store.url}" in err
    assert "FLOWKIT_STORE" in err


def test_a_code_package_the_store_lacks_is_a_clear_error(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    exported_to = open_store(tmp_path / "exported")
    code = code_ref_for(load_flow_file(FLOWS / "policy_flow.py"), exported_to)
    other = open_store(tmp_path / "other")
    status, result, err = call(
        capfd, "start", other.url, json.dumps(asdict(code)), "", "", given={}
    )
    assert (status, result) == (2, None)
    assert f"is not in the store at {other.url}" in err
    assert "export the DAG again with --store" in err


def test_usage(capfd: pytest.CaptureFixture[str]) -> None:
    assert main(["step", "only-one-argument"]) == 2
    assert "python -m flowkit.export.airflow_task" in capfd.readouterr().err


def test_sigterm_kills_the_attempt_and_records_it(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """What the DAG does when Airflow stops a task (its execution_timeout, a cancel)."""
    store = open_store(tmp_path / "store")
    code = code_ref_for(load_flow_file(FLOWS / "hang_flow.py"), store)
    _, run, _ = call(capfd, "start", store.url, json.dumps(asdict(code)), "", "", given={})
    where = (run["store"], run["run"])
    _, start, _ = call(capfd, "step", *where, "start", "", "1", "1", given=[])
    step = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "flowkit.export.airflow_task",
            "step",
            *where,
            "hang",
            "",
            "1",
            "1",
        ],
        start_new_session=True,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    assert step.stdin is not None
    step.stdin.write(json.dumps([start]))
    step.stdin.close()
    try:
        deadline = time.monotonic() + 60
        while not [r for r in _hang_tasks(store, run) if r.pid] and time.monotonic() < deadline:
            time.sleep(0.1)
        (running,) = _hang_tasks(store, run)
        assert running.status == "running" and running.pid
        step.send_signal(signal.SIGTERM)
        assert step.wait(30) != 0
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(step.pid, signal.SIGKILL)
    (killed,) = _hang_tasks(store, run)
    assert killed.status == "killed"
    assert gone(running.pid)  # the task's own process is gone too


def gone(pid: int, within: float = 10.0) -> bool:
    """Whether process ``pid`` ends within ``within`` seconds (SIGKILL takes effect a moment
    after it is sent); a zombie left for its new parent to reap counts as ended: this
    process may be the subreaper it was handed to."""
    deadline = time.monotonic() + within
    while True:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state in ("Z", "X"):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


def _hang_tasks(store: Store, run: dict[str, Any]) -> list[Any]:
    if "hang" not in store.records.list_steps(run["flow"], run["run_id"]):
        return []
    return store.records.list_tasks(run["flow"], run["run_id"], "hang")


def _started(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], flow_file: str
) -> tuple[Store, dict[str, Any], dict[str, Any]]:
    """A run of ``flow_file`` and its start task's description."""
    store = open_store(tmp_path / "store")
    code = code_ref_for(load_flow_file(FLOWS / flow_file), store)
    _, run, _ = call(capfd, "start", store.url, json.dumps(asdict(code)), "", "", given={})
    _, start, _ = call(capfd, "step", run["store"], run["run"], "start", "", "1", "1", given=[])
    return store, run, start


def _running_hang(store: Store, run: dict[str, Any], process: subprocess.Popen[str]) -> Any:
    """The hang step's attempt 0 once its task process runs."""
    deadline = time.monotonic() + 60
    while not [r for r in _hang_tasks(store, run) if r.pid] and time.monotonic() < deadline:
        assert process.poll() is None
        time.sleep(0.1)
    (running,) = _hang_tasks(store, run)
    assert running.status == "running" and running.pid
    return running


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM])
def test_the_task_process_of_a_killed_airflow_task_stops_its_attempt(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], how: signal.Signals
) -> None:
    """The Airflow task's process running the DAG's helper SIGKILLed: the command the helper
    started (in a session of its own) notices, kills its attempt and records it; nothing runs
    on. SIGTERM (Airflow's execution_timeout, a cancel): the helper stops the command, which
    does the same."""
    from flowkit.export.airflow import export_dag

    store, run, start = _started(tmp_path, capfd, "hang_flow.py")
    dag = tmp_path / "hang_dag.py"
    dag.write_text(
        export_dag(
            load_flow_file(FLOWS / "hang_flow.py"),
            store,
            dag_id=None,
            python=sys.executable,
            bake_store=True,
            source="",
        ).text
    )
    call_args = {"args": ["step", run["store"], run["run"], "hang", "", "1", "1"]}
    airflow_task = subprocess.Popen(
        [
            sys.executable,
            str(Path(__file__).parent / "fake_airflow.py"),
            str(dag),
            "flowkit",
            json.dumps({**call_args, "kwargs": {"given": [start]}}),
        ],
        stdout=subprocess.DEVNULL,
        text=True,
        cwd=Path(__file__).parents[2],
    )
    try:
        running = _running_hang(store, run, airflow_task)
        airflow_task.send_signal(how)
        airflow_task.wait(60)
        deadline = time.monotonic() + 30
        while _hang_tasks(store, run)[0].status == "running" and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        with contextlib.suppress(ProcessLookupError):
            airflow_task.kill()
    (killed,) = _hang_tasks(store, run)
    assert killed.status == "killed"
    assert gone(running.pid)


def test_a_retry_closes_the_attempt_its_killed_try_left_running(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """The task command itself SIGKILLed (its watch dies with it): its attempt's process
    runs on, unwatched. Airflow's next try kills it and records it as lost before its own
    attempt: never two attempts of a task at once."""
    store, run, start = _started(tmp_path, capfd, "hang_flow.py")
    orphaned = _orphaned_hang(store, run, start)
    status, hang, _ = call(capfd, "step", run["store"], run["run"], "hang", "", "2", "1",
                           given=[start])  # fmt: skip
    assert status == 0 and hang["attempt"] == 1
    attempts = store.records.task_attempts(run["flow"], run["run_id"], "hang", hang["task_id"])
    assert [(a.attempt, a.status, a.failure) for a in attempts] == [
        (0, "failed", "lost"),
        (1, "succeeded", None),
    ]
    assert "a later Airflow try found it unfinished" in str(attempts[0].exception)
    assert gone(orphaned.pid)


def test_the_end_of_a_run_closes_an_attempt_left_running(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    store, run, start = _started(tmp_path, capfd, "hang_flow.py")
    orphaned = _orphaned_hang(store, run, start)
    status, ended, _ = call(capfd, "end", run["store"], run["run"], given=None)
    assert status == 1 and ended["status"] == "failed"
    (closed,) = _hang_tasks(store, run)
    assert closed.status == "killed"
    assert "its run ended while the attempt was unfinished" in str(closed.exception)
    assert gone(orphaned.pid)


def _orphaned_hang(store: Store, run: dict[str, Any], start: dict[str, Any]) -> Any:
    """The hang step's attempt 0, running on after its task command was SIGKILLed."""
    where, hang = (run["store"], run["run"]), ("hang", "", "1", "1")
    command = subprocess.Popen(
        [sys.executable, "-m", "flowkit.export.airflow_task", "step", *where, *hang],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    assert command.stdin is not None
    command.stdin.write(json.dumps([start]))
    command.stdin.close()
    running = _running_hang(store, run, command)
    command.kill()
    command.wait()
    time.sleep(0.5)
    assert _hang_tasks(store, run)[0].status == "running" and not gone(running.pid, 0.1)
    return running


def test_a_lost_attempt_is_retried_once_while_airflow_retries_then_catch_applies(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """Killed by a signal (the out-of-memory killer): retried once without @retry, as
    locally, but only while Airflow will run the task again (its try within max_tries);
    otherwise @catch and the dead letter apply now."""
    store, run, start = _started(tmp_path, capfd, "lost_flow.py")
    where = (run["store"], run["run"])
    status, _, _ = call(capfd, "step", *where, "oom", "", "1", "1", given=[start])
    assert status == RETRY_STATUS
    status, oom, _ = call(capfd, "step", *where, "oom", "", "2", "1", given=[start])
    assert status == 0 and oom["attempt"] == 1
    attempts = store.records.task_attempts(run["flow"], run["run_id"], "oom", oom["task_id"])
    assert [(a.status, a.failure) for a in attempts] == [("failed", "lost"), ("succeeded", None)]

    # Airflow will not try again (max_tries 0, or this try is its last): @catch now
    status, caught, _ = call(capfd, "step", *where, "caught_oom", "", "1", "0", given=[start])
    assert status == 0
    attempts = store.records.task_attempts(
        run["flow"], run["run_id"], "caught_oom", caught["task_id"]
    )
    # the caught attempt keeps why the step failed, as a local run's does
    assert [(a.status, a.failure) for a in attempts] == [("failed", "lost"), ("caught", "lost")]
    assert not list_letters(store)


def test_a_bad_conf_says_to_fix_the_dag_runs_conf(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    store = open_store(tmp_path / "store")
    code = json.dumps(asdict(code_ref_for(load_flow_file(FLOWS / "foreach_flow.py"), store)))
    status, _, err = call(
        capfd, "start", store.url, code, "", "", given={"conf": {"shift_by": "x"}}
    )
    assert status == 2
    assert "(in the DAG run's conf)" in err
    assert "'shift_by' takes a value of type int" in err
    assert "--shift_by" not in err  # the command line's option, which a DAG run has not
    status, _, err = call(capfd, "start", store.url, code, "", "", given={"conf": {"shfit_by": 1}})
    assert status == 2 and "has no parameter 'shfit_by'" in err and "did you mean" in err


def test_the_settings_stored_at_export_are_the_runs(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """The retry setting of the flow's project (not of the Airflow worker's directory)."""
    store = open_store(tmp_path / "store")
    code = json.dumps(asdict(code_ref_for(load_flow_file(FLOWS / "policy_flow.py"), store)))
    kept = {"retry": 1, "alerts": [], "sla_learned": True}
    key = store.put_spec(json.dumps({"airflow_settings": kept}))
    _, run, _ = call(capfd, "start", store.url, code, "", key, given={})
    where = (run["store"], run["run"])
    _, start, _ = call(capfd, "step", *where, "start", "", "1", "1", given=[])
    # @catch, and retry(times=1) from the setting: Airflow tries once more before catching
    status, _, _ = call(capfd, "step", *where, "caught", "", "1", "1", given=[start])
    assert status == RETRY_STATUS


def test_the_events_that_fired_a_dag_run_are_its_current_trigger() -> None:
    from flowkit.client.trigger import Trigger
    from flowkit.export.airflow_task import trigger_tags_of

    tags = trigger_tags_of(
        [
            {"uri": "flowkit://IngestFlow/", "extra": {"run_id": "R1"}, "at": 1796004000.0},
            {"uri": "flowkit-event://drift", "extra": {"reason": "x"}, "at": 1796000400.0,
             "id": "manual__1"},
            {"uri": "s3://elsewhere", "extra": {}, "at": 1.0},
        ]
    )  # fmt: skip
    trigger = Trigger.from_tags(tags)
    assert trigger is not None
    assert [(e.name, e.id, e.type) for e in trigger.events or []] == [
        ("metaflow.IngestFlow.end", "IngestFlow/R1", "run"),
        ("drift", "manual__1", "event"),
    ]


def test_a_start_task_stopped_after_creating_the_run_ends_it(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stopped (SIGTERM) before Airflow has the run's key, no task of the DAG run can end
    the run: it reads failed, not running for the hour of its lease."""
    from flowkit.export.run_spec import AirflowRun

    def stopped(self: AirflowRun, store: Store) -> None:
        raise SystemExit(128 + signal.SIGTERM)

    store = open_store(tmp_path / "store")
    code = json.dumps(asdict(code_ref_for(load_flow_file(FLOWS / "foreach_flow.py"), store)))
    monkeypatch.setattr(AirflowRun, "renew", stopped)
    with pytest.raises(SystemExit):
        main(["start", store.url, code, "", ""], "{}")
    (run_id,) = store.records.list_runs("ForeachFlow")
    run = store.records.get_run("ForeachFlow", run_id)
    assert store.leases.run_state(run) == "failed"
