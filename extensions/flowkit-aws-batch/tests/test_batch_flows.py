"""Flows on AWS Batch as a user runs them: a wide foreach as one array job (in chunks under
``--max-workers``), retries as new jobs and dead letters, a locally failed run resumed on
Batch, a run mixing ``@batch`` steps with local ones, and what is refused before anything
is submitted. moto's Batch is the control plane, the Runner the data plane (it runs exactly
what was submitted), SeaweedFS the S3 store."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import botocore.client
import pytest
from batchsim import STATUSES, BatchServer, JobRun, Runner
from tests.flows.foreach import ForeachFlow
from tests.runtime.test_shapes import Quiet

import flowkit
from flowkit.store import open_store
from flowkit.store.deadletters import list_letters


@dataclass(frozen=True)
class Submitted:
    """One ``SubmitJob`` this process made: when, and what it asked."""

    at: float  # time.time() before the call
    step: str
    size: int  # tasks in it: the array's size, or 1


class Submissions:
    """Every ``SubmitJob`` made in this process (an observer at botocore's boundary)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.made: list[Submitted] = []
        through = botocore.client.BaseClient._make_api_call

        def observed(client: Any, operation: str, params: dict[str, Any]) -> Any:
            if operation == "SubmitJob":
                size = (params.get("arrayProperties") or {}).get("size", 1)
                step = params.get("tags", {}).get("flowkit:step", params["jobName"])
                self.made.append(Submitted(time.time(), step, size))
            return through(client, operation, params)

        monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", observed)

    def sizes(self, step: str) -> list[int]:
        return [s.size for s in self.made if s.step == step]


@pytest.fixture
def submissions(monkeypatch: pytest.MonkeyPatch) -> Submissions:
    return Submissions(monkeypatch)


def _with_batch(server: BatchServer) -> str:
    return f"batch:queue={server.queue},image=python:3.11"


def _by_step(runs: list[JobRun], flow: str) -> dict[str, list[JobRun]]:
    """The Runner's runs of ``flow``'s jobs by step (a job is named ``flowkit-FLOW-STEP``)."""
    found: dict[str, list[JobRun]] = {}
    for run in runs:
        prefix = f"flowkit-{flow}-"
        if run.job.name.startswith(prefix):
            found.setdefault(run.job.name.removeprefix(prefix), []).append(run)
    return found


def _queued(server: BatchServer) -> set[str]:
    """Every job moto holds in the test queue, any status."""
    pages = server.client().get_paginator("list_jobs")
    return {
        summary["jobId"]
        for status in STATUSES
        for page in pages.paginate(jobQueue=server.queue, jobStatus=status)
        for summary in page["jobSummaryList"]
    }


# --- a wide foreach -----------------------------------------------------------------------


#: A fan-out wider than the Runner's 4 jobs at once and than the default --max-workers of most
#: machines (their CPU count), which a Batch run does not apply.
FANOUT = 20


@pytest.mark.slow
def test_a_wide_foreach_is_one_array_job_whose_children_each_run_once(
    batch_server: BatchServer,
    batch_store: str,
    batch_runner: Runner,
    submissions: Submissions,
) -> None:
    run = flowkit.run(
        ForeachFlow,
        store=batch_store,
        with_decorators=[_with_batch(batch_server)],
        progress=Quiet(),
        n=FANOUT,
    )
    assert run.successful
    assert run["join"].task.data.total == sum(i * i for i in range(FANOUT))
    assert run["join"].task.data.order == list(range(FANOUT))
    assert sorted(t.data.value for t in run["square"]) == sorted(i * i for i in range(FANOUT))

    assert [(s.step, s.size) for s in submissions.made] == [
        ("start", 1),
        ("square", FANOUT),
        ("join", 1),
        ("end", 1),
    ]
    squares = _by_step(batch_runner.runs, "ForeachFlow")["square"]
    assert sorted(r.index for r in squares if r.index is not None) == list(range(FANOUT))
    assert len({r.job_id.partition(":")[0] for r in squares}) == 1
    assert {r.exit_code for r in squares} == {0}
    # each child found its own task by its index: the FANOUT tasks are distinct ones
    records = open_store(batch_store).records
    tasks = records.list_tasks("ForeachFlow", run.id, "square")
    assert sorted(t.foreach for t in tasks) == [(i,) for i in range(FANOUT)]
    assert all(t.status == "succeeded" and t.attempt == 0 for t in tasks)


#: The fan-out, and --max-workers: chunks of LIMIT live jobs at most, three at least.
WIDTH, LIMIT = 12, 4


@pytest.mark.slow
def test_max_workers_sends_the_foreach_in_chunks_of_live_jobs(
    batch_server: BatchServer,
    batch_store: str,
    batch_env: dict[str, str],
    submissions: Submissions,
    tmp_path: Path,
) -> None:
    # LIMIT at once: each chunk starts as soon as it is submitted
    with Runner(batch_server, tmp_path / "batch-jobs", batch_env, workers=LIMIT) as batch_runner:
        run = flowkit.run(
            ForeachFlow,
            store=batch_store,
            with_decorators=[_with_batch(batch_server)],
            max_workers=LIMIT,
            progress=Quiet(),
            n=WIDTH,
        )
    assert run.successful
    assert run["join"].task.data.total == sum(i * i for i in range(WIDTH))
    assert run["join"].task.data.order == list(range(WIDTH))

    chunks = submissions.sizes("square")
    assert sum(chunks) == WIDTH and chunks[0] == LIMIT and max(chunks) == LIMIT, chunks
    assert len(chunks) >= -(-WIDTH // LIMIT)  # later ones as room came, not all at once
    # at every SubmitJob, the run's jobs not yet ended (by their final records) were <= LIMIT
    records = open_store(batch_store).records
    ended = sorted(
        a.finished_at
        for step in ("start", "square", "join", "end")
        for t in records.list_tasks("ForeachFlow", run.id, step)
        for a in records.task_attempts("ForeachFlow", run.id, step, t.task_id)
        if a.finished_at is not None
    )
    assert len(ended) == WIDTH + 3  # one attempt each: nothing was lost and run twice
    submitted = 0
    for made in submissions.made:
        submitted += made.size
        live = submitted - sum(1 for at in ended if at < made.at)
        assert live <= LIMIT, (made, submitted)
    squares = _by_step(batch_runner.runs, "ForeachFlow")["square"]
    assert len(squares) == WIDTH and {r.exit_code for r in squares} == {0}


# --- failures -------------------------------------------------------------------------------

FAILING = """\
from pathlib import Path
from flowkit import FlowSpec, current, retry, step

MARK = Path({mark!r})


class FailingFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.flaky, self.doomed)

    @retry(times=2, backoff=0)
    @step
    def flaky(self):
        if not MARK.exists():
            MARK.write_text("failed once")
            raise RuntimeError("the first attempt fails")
        self.tries = current.retry_count
        self.next(self.join)

    @retry(times=1, backoff=0)
    @step
    def doomed(self):
        raise ValueError(f"attempt {{current.retry_count}} has no luck")
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass
"""


@pytest.mark.slow
def test_each_retry_is_a_new_job_and_a_task_that_fails_for_good_is_dead_lettered(
    batch_server: BatchServer,
    batch_store: str,
    batch_runner: Runner,
    submissions: Submissions,
    tmp_path: Path,
) -> None:
    flow = tmp_path / "failing.py"
    flow.write_text(FAILING.format(mark=str(tmp_path / "failed-once")))
    with pytest.raises(flowkit.RunFailed) as info:
        flowkit.run(
            str(flow),
            store=batch_store,
            with_decorators=[_with_batch(batch_server)],
            progress=Quiet(),
        )
    run = info.value.run
    assert run.status == "failed"
    assert "ValueError: attempt 1 has no luck" in info.value.message

    store = open_store(batch_store)
    records = store.records
    (flaky,) = records.list_tasks("FailingFlow", run.id, "flaky")
    attempts = records.task_attempts("FailingFlow", run.id, "flaky", flaky.task_id)
    assert [(a.attempt, a.status) for a in attempts] == [(0, "failed"), (1, "succeeded")]
    assert str(attempts[0].exception) == "RuntimeError: the first attempt fails"
    assert run["flaky"].task.data.tries == 1
    (doomed,) = records.list_tasks("FailingFlow", run.id, "doomed")
    attempts = records.task_attempts("FailingFlow", run.id, "doomed", doomed.task_id)
    assert [(a.attempt, a.status, a.failure) for a in attempts] == [
        (0, "failed", "error"),
        (1, "failed", "error"),
    ]

    # every attempt was a job of its own, submitted as it came, and its worker said how it went
    assert submissions.sizes("flaky") == [1, 1] and submissions.sizes("doomed") == [1, 1]
    jobs = _by_step(batch_runner.runs, "FailingFlow")
    assert sorted(jobs) == ["doomed", "flaky", "start"]
    for step in ("flaky", "doomed"):
        assert len({r.job_id for r in jobs[step]}) == 2
    assert sorted(r.exit_code != 0 for r in jobs["flaky"]) == [False, True]
    assert [r.exit_code != 0 for r in jobs["doomed"]] == [True, True]

    (letter,) = list_letters(store)
    assert (letter.run_id, letter.step, letter.task_id, letter.attempt) == (
        run.id,
        "doomed",
        doomed.task_id,
        1,
    )
    assert str(letter.exception) == "ValueError: attempt 1 has no luck"


# --- resume ---------------------------------------------------------------------------------

MEND = """\
from pathlib import Path
from flowkit import FlowSpec, step

FIXED = Path({fixed!r})


class MendFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2, 3]
        self.next(self.work, foreach="items")

    @step
    def work(self):
        if self.input == 3 and not FIXED.exists():
            raise RuntimeError("item 3 is broken")
        self.square = self.input * self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.square for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass
"""


@pytest.mark.slow
def test_a_run_that_failed_locally_resumes_on_batch_and_clones_run_no_job(
    batch_server: BatchServer,
    batch_store: str,
    batch_runner: Runner,
    submissions: Submissions,
    tmp_path: Path,
) -> None:
    flow, fixed = tmp_path / "mend.py", tmp_path / "fixed"
    flow.write_text(MEND.format(fixed=str(fixed)))
    with pytest.raises(flowkit.RunFailed, match="item 3 is broken") as info:
        flowkit.run(str(flow), store=batch_store, progress=Quiet())  # locally, on the S3 store
    origin = info.value.run.id
    assert submissions.made == []

    fixed.touch()
    run = flowkit.resume(
        str(flow),
        store=batch_store,
        with_decorators=[_with_batch(batch_server)],
        progress=Quiet(),
    )
    assert run.successful and run.origin_run_id == origin
    assert run["join"].task.data.total == 1 + 4 + 9
    cloned = {
        (step.id, task.record.foreach)
        for step in run
        for task in step
        if task.record.origin_pathspec is not None
    }
    assert cloned == {("start", ()), ("work", (0,)), ("work", (1,))}
    # what was cloned ran no job; the mended task, the join and the end ran one each
    assert [(s.step, s.size) for s in submissions.made] == [("work", 1), ("join", 1), ("end", 1)]
    jobs = _by_step(batch_runner.wait(3), "MendFlow")
    assert {step: [(r.index, r.exit_code) for r in found] for step, found in jobs.items()} == {
        step: [(None, 0)] for step in ("work", "join", "end")
    }
    (mended,) = [t for t in run["work"] if t.record.origin_pathspec is None]
    assert mended.record.foreach == (2,) and mended.data.square == 9


# --- a mixed run, as a user runs it ---------------------------------------------------------

HALF = """\
import os
from flowkit import FlowSpec, batch, step


class HalfFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2, 3]
        self.job = os.environ.get("AWS_BATCH_JOB_ID")
        self.next(self.work, foreach="items")

    @batch(queue={queue!r}, image="python:3.11")
    @step
    def work(self):
        print(f"working on {{self.input}}")
        self.value = self.input * 10
        self.job = os.environ.get("AWS_BATCH_JOB_ID")
        self.next(self.join)

    @step
    def join(self, inputs):
        self.values = [i.value for i in inputs]
        self.job = os.environ.get("AWS_BATCH_JOB_ID")
        self.next(self.end)

    @batch(queue={queue!r}, image="python:3.11")
    @step
    def end(self):
        self.total = sum(self.values)
        print("the total is", self.total)
        self.job = os.environ.get("AWS_BATCH_JOB_ID")


if __name__ == "__main__":
    HalfFlow()
"""


def _half(tmp_path: Path, server: BatchServer) -> Path:
    flow = tmp_path / "half.py"
    flow.write_text(HALF.format(queue=server.queue))
    return flow


@pytest.mark.slow
def test_only_batch_steps_are_jobs_and_their_output_is_echoed(
    batch_server: BatchServer, batch_store: str, batch_runner: Runner, tmp_path: Path
) -> None:
    flow = _half(tmp_path, batch_server)
    done = subprocess.run(
        [sys.executable, str(flow), "run", "--store", batch_store],
        env=dict(os.environ),  # batch_env's, as a user's shell would have them
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    run = flowkit.Flow("HalfFlow", store=batch_store).latest_run
    assert run is not None and run.successful
    assert sorted(t.data.value for t in run["work"]) == [10, 20, 30]
    assert run["join"].task.data.values == [10, 20, 30]
    assert run["end"].task.data.total == 60

    # the decorated steps' tasks, and only they, ran in the Runner's jobs
    jobs = _by_step(batch_runner.runs, "HalfFlow")
    assert sorted(jobs) == ["end", "work"]
    assert run["start"].task.data.job is None and run["join"].task.data.job is None
    for step in ("work", "end"):
        assert sorted(t.data.job for t in run[step]) == sorted(r.job_id for r in jobs[step])
    assert {r.index for r in jobs["work"]} == {0, 1, 2}  # one array job

    out = done.stdout + done.stderr
    for task in run["work"]:
        line = f"[work/{task.id}] working on {task.data.value // 10}"
        assert out.count(line) == 1, out
    assert out.count(f"[end/{run['end'].task.id}] the total is 60") == 1, out
    assert run["end"].task.stdout == "the total is 60\n"


# --- refused before anything is submitted ---------------------------------------------------


def test_a_local_store_with_batch_steps_is_refused_before_anything_is_submitted(
    batch_server: BatchServer,
    batch_env: dict[str, str],
    submissions: Submissions,
    tmp_path: Path,
) -> None:
    flow = _half(tmp_path, batch_server)
    store = str(tmp_path / "store")
    before = _queued(batch_server)
    with pytest.raises(flowkit.RunFailed) as info:
        flowkit.run(str(flow), store=store, progress=Quiet())
    message = info.value.message
    assert "step 'work' cannot run on batch" in message
    assert "AWS Batch jobs need an s3:// store" in message and store in message
    assert "--store s3://BUCKET/PREFIX" in message
    assert submissions.made == [] and _queued(batch_server) == before
    # not even the local start ran
    assert open_store(store).records.list_tasks("HalfFlow", info.value.run.id, "start") == []


@pytest.mark.parametrize(
    ("given", "lacking"),
    [
        ("batch", "@batch needs queue and image"),
        ("batch:image=python:3.11", "@batch needs queue"),
        ("batch:queue={queue}", "@batch needs image"),
    ],
)
def test_a_missing_queue_or_image_is_refused_naming_the_options(
    batch_server: BatchServer,
    batch_store: str,
    submissions: Submissions,
    given: str,
    lacking: str,
) -> None:
    before = _queued(batch_server)
    with pytest.raises(flowkit.RunFailed) as info:
        flowkit.run(
            ForeachFlow,
            store=batch_store,
            progress=Quiet(),
            n=2,
            with_decorators=[given.format(queue=batch_server.queue)],
        )
    message = info.value.message
    assert "step 'start' cannot run on batch" in message and lacking in message
    assert "--with batch:" in message
    assert submissions.made == [] and _queued(batch_server) == before
