"""``--detach`` on AWS Batch: the command returns at once with the run's id and its
scheduler's job; the Runner runs that job (``python -m flowkit.driver STORE KEY``), whose
scheduler submits the tasks' jobs, which the Runner runs too; the run ends succeeded and
reads back from a fresh process. Without ``--with``, the scheduler's job gets the ``@batch``
options every step gives alike."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from batchsim import BatchServer, JobRun, Runner

from flowkit.store import open_store

T = TypeVar("T")

GATED = """\
import os, time
from pathlib import Path
from flowkit import FlowSpec, step

GATE = Path({gate!r})


class DetachFlow(FlowSpec):
    @step
    def start(self):
        self.base = 20
        self.next(self.wait)

    @step
    def wait(self):
        Path(f"{{GATE}}.waiting").write_text(os.environ["AWS_BATCH_JOB_ID"])
        while not GATE.exists():
            time.sleep(0.05)
        self.value = self.base + 22
        self.next(self.end)

    @step
    def end(self):
        self.result = self.value * 2


if __name__ == "__main__":
    DetachFlow()
"""

#: Every step on Batch with the same queue and image; ``end`` alone asks for shared memory.
SHARED = """\
from flowkit import FlowSpec, batch, step


class SharedFlow(FlowSpec):
    @batch(queue={queue!r}, image="flowkit-py311:shared")
    @step
    def start(self):
        self.base = 21
        self.next(self.end)

    @batch(queue={queue!r}, image="flowkit-py311:shared", shared_memory=64)
    @step
    def end(self):
        self.result = self.base * 2


if __name__ == "__main__":
    SharedFlow()
"""

READ_BACK = """\
import json, sys
from flowkit import Flow
run = Flow(sys.argv[1], store=sys.argv[2]).latest_run
print(json.dumps({"id": run.id, "status": run.status, "result": run["end"].task.data.result}))
"""


def _python(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """``python ARGS...`` as a user runs it, with :func:`batch_env`'s environment."""
    return subprocess.run(
        [sys.executable, *map(str, args)],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=120,
    )


def _until(found: Callable[[], T | None], timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = found()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {what} in {timeout} s")
        time.sleep(0.1)


def _detach(flow: Path, store: str, *options: str) -> tuple[str, str, float, str]:
    """``python flow.py run OPTIONS... --detach``: the run's id, its scheduler's job, how
    long the command took, and what it printed."""
    began = time.monotonic()
    done = _python(flow, "run", *options, "--detach", "--store", store)
    took = time.monotonic() - began
    assert done.returncode == 0, done.stdout + done.stderr
    said = re.search(
        r"(\w+)/(\S+) detached: its scheduler runs as AWS Batch job (\S+) \(queue (\S+)\)",
        done.stderr,  # progress goes to stderr, as a run's does
    )
    assert said, (done.stdout, done.stderr)
    _, run_id, job, _ = said.groups()
    return run_id, job, took, done.stderr


def _steps(runs: list[JobRun], flow: str) -> dict[str, list[JobRun]]:
    prefix = f"flowkit-{flow}-"
    found: dict[str, list[JobRun]] = {}
    for run in runs:
        if run.job.name.startswith(prefix):
            found.setdefault(run.job.name.removeprefix(prefix), []).append(run)
    return found


def _definition(server: BatchServer, job_id: str) -> dict[str, Any]:
    """The job definition the job ``job_id`` was submitted with."""
    client = server.client()
    (job,) = client.describe_jobs(jobs=[job_id])["jobs"]
    (found,) = client.describe_job_definitions(jobDefinitions=[job["jobDefinition"]])[
        "jobDefinitions"
    ]
    definition: dict[str, Any] = found
    return definition


@pytest.mark.slow
def test_detach_returns_at_once_and_the_scheduler_runs_as_a_job(
    batch_server: BatchServer, batch_store: str, batch_runner: Runner, tmp_path: Path
) -> None:
    flow, gate = tmp_path / "flow.py", tmp_path / "gate"
    flow.write_text(GATED.format(gate=str(gate)))
    with_batch = f"batch:queue={batch_server.queue},image=python:3.11"
    run_id, scheduler, took, said = _detach(flow, batch_store, "--with", with_batch)
    assert took < 20  # it did not wait for the run, whose wait step waits on the gate
    assert f"(queue {batch_server.queue})" in said and "flowkit runs DetachFlow" in said
    records = open_store(batch_store).records
    assert records.get_run_end("DetachFlow", run_id) is None

    # the Runner runs the scheduler's job, which submits the tasks' jobs
    waiting = Path(f"{gate}.waiting")
    _until(waiting.exists, 90, "job of the wait step")
    wait_job = waiting.read_text()
    assert wait_job != scheduler and scheduler in batch_runner.running
    gate.touch()
    end = _until(lambda: records.get_run_end("DetachFlow", run_id), 90, "end of the run")
    assert end.status == "succeeded"

    read = _python("-c", READ_BACK, "DetachFlow", batch_store)
    assert read.returncode == 0, read.stderr
    assert json.loads(read.stdout) == {"id": run_id, "status": "succeeded", "result": 84}

    (job,) = _until(lambda: [r for r in batch_runner.runs if r.job_id == scheduler], 30, "it")
    assert job.job.name == "flowkit-scheduler" and job.exit_code == 0, job.stderr
    assert job.job.argv[1:3] == ("-m", "flowkit.driver") and job.job.argv[3] == batch_store
    steps = _steps(batch_runner.runs, "DetachFlow")
    assert {step: [(r.index, r.exit_code) for r in found] for step, found in steps.items()} == {
        step: [(None, 0)] for step in ("start", "wait", "end")
    }
    assert [r.job_id for r in steps["wait"]] == [wait_job]


@pytest.mark.slow
def test_without_with_the_steps_shared_batch_options_go_to_the_scheduler(
    batch_server: BatchServer, batch_store: str, batch_runner: Runner, tmp_path: Path
) -> None:
    flow = tmp_path / "shared.py"
    flow.write_text(SHARED.format(queue=batch_server.queue))
    run_id, scheduler, _, _ = _detach(flow, batch_store)
    records = open_store(batch_store).records
    end = _until(lambda: records.get_run_end("SharedFlow", run_id), 90, "end of the run")
    assert end.status == "succeeded"
    read = _python("-c", READ_BACK, "SharedFlow", batch_store)
    assert json.loads(read.stdout) == {"id": run_id, "status": "succeeded", "result": 42}

    # the scheduler's job: the queue and image every step gives, not end's shared memory
    (ran,) = _until(lambda: [r for r in batch_runner.runs if r.job_id == scheduler], 30, "it")
    assert ran.job.name == "flowkit-scheduler" and ran.exit_code == 0, ran.stderr
    assert ran.job.image == "flowkit-py311:shared"
    scheduler_definition = _definition(batch_server, scheduler)["containerProperties"]
    assert scheduler_definition["image"] == "flowkit-py311:shared"
    assert "sharedMemorySize" not in scheduler_definition["linuxParameters"]
    (end_job,) = _steps(batch_runner.runs, "SharedFlow")["end"]
    end_definition = _definition(batch_server, end_job.job_id)["containerProperties"]
    assert end_definition["linuxParameters"]["sharedMemorySize"] == 64
