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


def call(capfd: pytest.CaptureFixture[str], *args: str) -> tuple[int, Any, str]:
    """The command's exit status, the result it printed (None if none) and its stderr."""
    status = main(list(args))
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
        capfd, "start", store.url, json.dumps(asdict(code)), str(FLOWS / "policy_flow.py"), "{}"
    )
    assert status == 0
    return store, run


def test_timeout_catch_and_retry_as_a_local_run_records_them(
    started: tuple[Store, dict[str, Any]], capfd: pytest.CaptureFixture[str]
) -> None:
    store, run = started
    where = (run["store"], run["run"])
    status, start, _ = call(capfd, "step", *where, "start", "[]", "", "1")
    assert status == 0 and start["step"] == "start" and start["next"] == ["slow", "caught", "flaky"]

    # @timeout(seconds=3): killed at its timeout, recorded so, no retry left: dead-lettered
    status, slow, err = call(capfd, "step", *where, "slow", json.dumps([start]), "", "1")
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
    status, caught, _ = call(capfd, "step", *where, "caught", json.dumps([start]), "", "1")
    assert status == 0
    attempts = store.records.task_attempts(run["flow"], run["run_id"], "caught", caught["task_id"])
    assert [a.status for a in attempts] == ["failed", "caught"]

    # @retry(times=1): the first try exits for Airflow to retry; the retry is attempt 1
    status, _, _ = call(capfd, "step", *where, "flaky", json.dumps([start]), "", "1")
    assert status == RETRY_STATUS
    status, flaky, _ = call(capfd, "step", *where, "flaky", json.dumps([start]), "", "2")
    assert status == 0 and flaky["attempt"] == 1
    # Airflow running the task once more (a cleared task) runs nothing again
    status, again, _ = call(capfd, "step", *where, "flaky", json.dumps([start]), "", "3")
    assert status == 0 and again == flaky
    assert (
        len(store.records.task_attempts(run["flow"], run["run_id"], "flaky", flaky["task_id"])) == 2
    )

    # the join cannot run (slow failed); the end task records the run as failed
    status, ended, err = call(capfd, "end", *where, "null")
    assert status == 1 and ended["status"] == "failed"
    assert f"task {run['flow']}/{run['run_id']}/slow/{slow['task_id']} failed" in err
    assert store.records.get_run_end(run["flow"], run["run_id"]).status == "failed"


def test_a_run_key_the_store_lacks_is_a_clear_error(
    started: tuple[Store, dict[str, Any]], capfd: pytest.CaptureFixture[str]
) -> None:
    store, _ = started
    status, result, err = call(capfd, "step", store.url, "0" * 64, "start", "[]")
    assert (status, result) == (2, None)
    assert f"no flowkit run '{'0' * 64}' for Airflow in the store at {store.url}" in err
    assert "FLOWKIT_STORE" in err


def test_a_code_package_the_store_lacks_is_a_clear_error(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    exported_to = open_store(tmp_path / "exported")
    code = code_ref_for(load_flow_file(FLOWS / "policy_flow.py"), exported_to)
    other = open_store(tmp_path / "other")
    status, result, err = call(capfd, "start", other.url, json.dumps(asdict(code)), "", "{}")
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
    _, run, _ = call(capfd, "start", store.url, json.dumps(asdict(code)), "", "{}")
    where = (run["store"], run["run"])
    _, start, _ = call(capfd, "step", *where, "start", "[]", "", "1")
    step = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "flowkit.export.airflow_task",
            "step",
            *where,
            "hang",
            json.dumps([start]),
            "",
            "1",
        ],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
    )
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
