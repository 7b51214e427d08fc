"""``--detach`` on a real Slurm cluster: the command returns at once with the run's id and
its scheduler's job, the scheduler runs as a job (``flowkit-scheduler``) that submits the
tasks as jobs, the run finishes and reads back from a fresh process, and ``scancel`` of the
scheduler's job cancels the run cleanly."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from slurm_jobs import job_fields, python, run_jobs, user_env, wait_until
from slurmcluster import SlurmCluster
from tests.runtime.test_shapes import Quiet

import flowkit
from flowkit.store import open_store

FLOW = """\
import os, time
from pathlib import Path
from flowkit import FlowSpec, step


class DetachFlow(FlowSpec):
    @step
    def start(self):
        self.base = 20
        self.next(self.wait)

    @step
    def wait(self):
        gate = Path(os.environ["GATE"])
        # written whole, then renamed: the test reads the job id as soon as the name appears
        Path(f"{gate}.waiting.tmp").write_text(os.environ["SLURM_JOB_ID"])
        os.replace(f"{gate}.waiting.tmp", f"{gate}.waiting")
        while not gate.exists():
            time.sleep(0.05)
        self.value = self.base + 22
        self.next(self.end)

    @step
    def end(self):
        self.result = self.value * 2


if __name__ == "__main__":
    DetachFlow()
"""

READ_BACK = """\
import json, sys
from flowkit import Flow
run = Flow("DetachFlow", store=sys.argv[1]).latest_run
print(json.dumps({"id": run.id, "status": run.status, "result": run["end"].task.data.result}))
"""

DETACHED = re.compile(
    r"DetachFlow/(\S+) detached: its scheduler runs as Slurm job (\d+) \(its output: (\S+)\)"
)


@pytest.fixture
def env(slurm_cluster: SlurmCluster, tmp_path: Path) -> dict[str, str]:
    """A user's environment for the cluster: the flow waits on ``tmp_path/gate``."""
    return user_env(slurm_cluster, tmp_path, GATE=str(tmp_path / "gate"))


def _detach(tmp_path: Path, env: dict[str, str], executor: str = "slurm") -> tuple[str, str, float]:
    """``python flow.py run --with EXECUTOR --detach``: the run's id, its scheduler's job,
    and how long the command took."""
    flow = tmp_path / "flow.py"
    flow.write_text(FLOW)
    store = tmp_path / "store"
    began = time.monotonic()
    done = python(env, flow, "run", "--with", executor, "--detach", "--store", store)
    took = time.monotonic() - began
    assert done.returncode == 0, done.stdout + done.stderr
    found = DETACHED.search(done.stderr)  # progress goes to stderr, as a run's does
    assert found, (done.stdout, done.stderr)
    run_id, job, output = found.groups()
    assert output == f"{tmp_path}/cache/flowkit/slurm/schedulers/{job}.out"
    assert "runs: flowkit runs DetachFlow" in done.stderr
    return run_id, job, took


def _status_in_runs(env: dict[str, str], store: Path, run_id: str) -> str:
    """The run's STATUS as ``flowkit runs`` shows it."""
    done = python(env, "-m", "flowkit.cli.main", "runs", "DetachFlow", "--store", store)
    assert done.returncode == 0, done.stderr
    rows = done.stdout.splitlines()
    (row,) = [r.split() for r in rows if r.startswith(run_id)]
    return row[1]


@pytest.mark.slow
def test_detach_returns_at_once_and_the_run_finishes_as_jobs(
    slurm_cluster: SlurmCluster, tmp_path: Path, env: dict[str, str]
) -> None:
    store = tmp_path / "store"
    run_id, scheduler, took = _detach(tmp_path, env, "slurm:time=5,scheduler_time=90")
    # it returned without waiting for the run, which waits on the gate (the end record below
    # proves that; the bound only says it did not sit on the queue, even on a loaded machine)
    assert took < 45
    records = open_store(str(store)).records
    assert records.get_run_end("DetachFlow", run_id) is None
    assert _status_in_runs(env, store, run_id) == "running"

    job = job_fields(slurm_cluster, scheduler)
    assert job["JobName"] == "flowkit-scheduler" and job["NumCPUs"] == "1"
    assert job["Requeue"] == "0"
    assert job["TimeLimit"] == "01:30:00"  # its own limit, not the tasks' time=5
    wait_until(lambda: (tmp_path / "gate.waiting").exists(), 60, what="the wait step's job")
    wait_job = (tmp_path / "gate.waiting").read_text()
    assert wait_job != scheduler
    assert job_fields(slurm_cluster, wait_job)["JobName"] == f"flowkit:DetachFlow/{run_id}/wait"
    assert job_fields(slurm_cluster, wait_job)["TimeLimit"] == "00:05:00"
    assert job_fields(slurm_cluster, scheduler)["JobState"] == "RUNNING"
    assert _status_in_runs(env, store, run_id) == "running"

    (tmp_path / "gate").touch()
    end = wait_until(lambda: records.get_run_end("DetachFlow", run_id), 60, what="the run's end")
    assert end.status == "succeeded"
    read = python(env, "-c", READ_BACK, store)
    assert read.returncode == 0, read.stderr
    assert json.loads(read.stdout) == {"id": run_id, "status": "succeeded", "result": 84}
    assert _status_in_runs(env, store, run_id) == "succeeded"

    # every step ran as a job of its own, named after it, and the scheduler's job ended well
    wait_until(
        lambda: job_fields(slurm_cluster, scheduler)["JobState"] == "COMPLETED",
        what="the scheduler's job to complete",
    )
    jobs = run_jobs(slurm_cluster, "DetachFlow", run_id)
    assert [(j.step, j.index, j.state) for j in jobs] == [
        (step, None, "COMPLETED") for step in ("start", "wait", "end")
    ]
    assert wait_job in {j.job_id for j in jobs} and scheduler not in {j.job_id for j in jobs}


@pytest.mark.slow
def test_scancel_of_the_scheduler_cancels_the_run_cleanly(
    slurm_cluster: SlurmCluster, tmp_path: Path, env: dict[str, str]
) -> None:
    store = tmp_path / "store"
    run_id, scheduler, _ = _detach(tmp_path, env)
    wait_until(lambda: (tmp_path / "gate.waiting").exists(), 60, what="the wait step's job")
    wait_job = (tmp_path / "gate.waiting").read_text()

    # at once: the task may not have written its start record yet (it does after 0.5 s)
    slurm_cluster.command("scancel", scheduler)
    records = open_store(str(store)).records
    end = wait_until(lambda: records.get_run_end("DetachFlow", run_id), what="the run's end")
    assert end.status == "cancelled"
    (wait,) = records.list_tasks("DetachFlow", run_id, "wait")
    assert wait.status == "killed"
    assert _status_in_runs(env, store, run_id) == "cancelled"
    queue = ("squeue", "--noheader", "--array")
    wait_until(lambda: slurm_cluster.command(*queue).stdout == "", 90, what="an empty queue")
    wait_until(lambda: not slurm_cluster.processes(), 90, what="no job process left")
    assert job_fields(slurm_cluster, wait_job)["JobState"] == "CANCELLED"
    assert job_fields(slurm_cluster, scheduler)["JobState"] == "CANCELLED"


@pytest.mark.slow
def test_run_with_detach_from_python_returns_the_run(
    slurm_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flow = tmp_path / "flow.py"
    flow.write_text(FLOW)
    monkeypatch.setenv("GATE", str(tmp_path / "gate"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    sink = Quiet()
    run = flowkit.run(
        str(flow),
        store=str(tmp_path / "store"),
        with_decorators=["slurm"],
        detach=True,
        progress=sink,
    )
    assert isinstance(run, flowkit.Run)
    assert run.pathspec.startswith("DetachFlow/") and run.status == "running"
    (event,) = sink.events
    assert re.fullmatch(r"Slurm job \d+ \(its output: .*\)", event.where)  # type: ignore[attr-defined]
    (tmp_path / "gate").touch()
    records = open_store(str(tmp_path / "store")).records
    end = wait_until(lambda: records.get_run_end("DetachFlow", run.id), 60, what="the run's end")
    assert end.status == "succeeded"
    assert flowkit.Run(run.pathspec, store=str(tmp_path / "store"))["end"].task.data.result == 84
