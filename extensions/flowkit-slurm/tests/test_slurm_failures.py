"""Failure handling on Slurm behaves as it does locally: a task that keeps failing is retried
(each attempt a job of its own) and dead-lettered with its exception, ``@catch`` stores the
error and the flow goes on, and a task past its ``@timeout`` has its job cancelled and is
recorded as timed out."""

from __future__ import annotations

from pathlib import Path

import pytest
from slurm_jobs import ended_jobs, job_fields, wait_until
from slurmcluster import SlurmCluster
from tests.flows.failures import CatchFlow, SlowStartTimeoutFlow
from tests.runtime.test_shapes import Quiet

import flowkit
from flowkit.store import open_store
from flowkit.store.deadletters import list_letters

DOOMED = """\
from flowkit import FlowSpec, current, retry, step


class DoomedFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.work)

    @retry(times=2, backoff=0)
    @step
    def work(self):
        raise ValueError(f"attempt {current.retry_count} has no luck")
        self.next(self.end)

    @step
    def end(self):
        pass
"""


@pytest.fixture(autouse=True)
def _output_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Failed jobs' output files (kept for whoever looks into them) go under ``tmp_path``."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


@pytest.mark.slow
def test_a_failing_task_is_retried_as_new_jobs_then_dead_lettered(
    slurm_env: dict[str, str], slurm_cluster: SlurmCluster, tmp_path: Path
) -> None:
    flow = tmp_path / "doomed.py"
    flow.write_text(DOOMED)
    store = str(tmp_path / "store")
    with pytest.raises(flowkit.RunFailed) as info:
        flowkit.run(str(flow), store=store, with_decorators=["slurm"], progress=Quiet())
    run = info.value.run
    assert run.status == "failed"
    assert "ValueError: attempt 2 has no luck" in info.value.message

    records = open_store(store).records
    (work,) = records.list_tasks("DoomedFlow", run.id, "work")
    attempts = records.task_attempts("DoomedFlow", run.id, "work", work.task_id)
    assert [(a.attempt, a.status, a.failure) for a in attempts] == [
        (i, "failed", "error") for i in range(3)
    ]
    assert [str(a.exception) for a in attempts] == [
        f"ValueError: attempt {i} has no luck" for i in range(3)
    ]
    # each attempt was a job of its own, and its worker exited with the task's failure
    jobs = ended_jobs(slurm_cluster, "DoomedFlow", run.id)
    assert [(j.index, j.state) for j in jobs["work"]] == [(None, "FAILED")] * 3
    assert len({j.job_id for j in jobs["work"]}) == 3 and "end" not in jobs

    (letter,) = list_letters(open_store(store))
    assert (letter.run_id, letter.step, letter.task_id, letter.attempt) == (
        run.id,
        "work",
        work.task_id,
        2,
    )
    assert letter.failure == "error"
    assert str(letter.exception) == "ValueError: attempt 2 has no luck"
    assert "raise ValueError" in letter.exception.traceback


@pytest.mark.slow
def test_catch_stores_the_error_and_the_flow_goes_on(
    slurm_env: dict[str, str], slurm_cluster: SlurmCluster, tmp_path: Path
) -> None:
    store = str(tmp_path / "store")
    run = flowkit.run(CatchFlow, store=store, with_decorators=["slurm"], progress=Quiet())
    assert run.successful
    assert run["end"].task.data.summary == "from start; builtins.KeyError"
    risky = run["risky"].task
    assert risky.status == "caught"
    assert (risky.data.error.type, risky.data.error.message) == (
        "builtins.KeyError",
        "'attempt 1 has no luck'",
    )
    assert risky.data.kept == "from start" and "lost" not in risky.data
    records = open_store(store).records
    attempts = records.task_attempts("CatchFlow", run.id, "risky", risky.id)
    assert [(a.status, a.failure) for a in attempts] == [
        ("failed", "error"),
        ("failed", "error"),
        ("caught", "error"),
    ]
    # each attempt a job: two that failed, and the one that stores the exception
    jobs = ended_jobs(slurm_cluster, "CatchFlow", run.id)
    assert sorted(jobs) == ["end", "risky", "start"]
    assert [j.state for j in jobs["risky"]] == ["FAILED", "FAILED", "COMPLETED"]


@pytest.mark.slow
def test_timeout_cancels_the_job_and_records_the_timeout(
    slurm_env: dict[str, str], slurm_cluster: SlurmCluster, tmp_path: Path
) -> None:
    store = str(tmp_path / "store")
    pids = tmp_path / "pids"
    pids.mkdir()
    with pytest.raises(flowkit.RunFailed) as info:
        flowkit.run(
            SlowStartTimeoutFlow,
            store=store,
            with_decorators=["slurm"],
            progress=Quiet(),
            pid_dir=str(pids),
        )
    run = info.value.run
    records = open_store(store).records
    (slow,) = records.list_tasks("SlowStartTimeoutFlow", run.id, "slow")
    attempts = records.task_attempts("SlowStartTimeoutFlow", run.id, "slow", slow.task_id)
    assert [(a.attempt, a.status, a.failure) for a in attempts] == [
        (0, "failed", "timeout"),
        (1, "failed", "timeout"),
    ]
    for attempt in attempts:
        assert attempt.exception is not None and attempt.exception.type == "TaskTimedOut"
        assert attempt.finished_at is not None
        # a 6 s @timeout counted from when Slurm started the job, which is before the
        # task's own start (the interpreter's start-up, seconds on a loaded machine): the
        # task's own span is what is left of it, and the kill came within the limit's margin
        assert 0 < attempt.finished_at - attempt.started_at < 9
    jobs = ended_jobs(slurm_cluster, "SlowStartTimeoutFlow", run.id)
    assert [j.state for j in jobs["slow"]] == ["CANCELLED", "CANCELLED"]
    # Slurm's own limit is only a backstop: the timeout plus 2 minutes, in whole minutes
    assert {job_fields(slurm_cluster, j.job_id)["TimeLimit"] for j in jobs["slow"]} == {"00:03:00"}
    # the job's processes are gone, the step's grandchild too
    grandchildren = [int(p.read_text()) for p in sorted(pids.iterdir())]
    assert len(grandchildren) == 2
    wait_until(
        lambda: not any(Path(f"/proc/{pid}").exists() for pid in grandchildren),
        what="the grandchildren's end",
    )
