"""Ctrl-C (or SIGTERM) of ``run --with slurm`` while a foreach array runs, some elements
running and the rest pending behind the ``%N`` throttle: every element ends CANCELLED, no
task process is left, the run is recorded as cancelled with its running tasks killed, and
``resume --with slurm`` finishes it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from slurm_jobs import alive, jobs_by_step, python, run_jobs, user_env, wait_until
from slurmcluster import SlurmCluster

from flowkit import Run
from flowkit.store import open_store

FLOW = """\
import os, time
from pathlib import Path
from flowkit import FlowSpec, step


class CancelFlow(FlowSpec):
    @step
    def start(self):
        self.items = list(range(int(os.environ["ITEMS"])))
        self.next(self.work, foreach="items")

    @step
    def work(self):
        gate = Path(os.environ["GATE"])
        Path(f"{gate}.{self.input}").write_text(str(os.getpid()))
        while not gate.exists():
            time.sleep(0.05)
        self.square = self.input * self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.square for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    CancelFlow()
"""

#: The array's size, and how many of its elements may run at once (--max-workers).
ITEMS, THROTTLE = 3, 2


def _start(env: dict[str, str], flow: Path, store: Path) -> subprocess.Popen[str]:
    """``python flow.py run --with slurm --max-workers THROTTLE``, started in the background."""
    flow.write_text(FLOW)
    argv = [flow, "run", "--with", "slurm", "--max-workers", str(THROTTLE), "--store", store]
    # a new session: a background process of a non-interactive shell ignores SIGINT
    return subprocess.Popen(
        [sys.executable, *map(str, argv)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_cancels_the_array_and_resume_finishes_the_run(
    slurm_cluster: SlurmCluster, tmp_path: Path, sig: signal.Signals
) -> None:
    flow, store, gate = tmp_path / "flow.py", tmp_path / "store", tmp_path / "gate"
    env = user_env(slurm_cluster, tmp_path, GATE=str(gate), ITEMS=str(ITEMS))
    cli = _start(env, flow, store)
    try:
        records = open_store(str(store)).records
        run_id = wait_until(lambda: records.list_runs("CancelFlow"), 60, what="the run")[0]
        # the running elements wrote their start records (a task does once it ran 0.5 s)
        wait_until(
            lambda: len(records.attempt_marks("CancelFlow", run_id, "work")) == THROTTLE,
            60,
            what=f"{THROTTLE} elements running",
        )
        jobs = jobs_by_step(run_jobs(slurm_cluster, "CancelFlow", run_id))["work"]
        assert [(j.index, j.state) for j in jobs] == [
            (i, "RUNNING" if i < THROTTLE else "PENDING") for i in range(ITEMS)
        ]
        assert {j.reason for j in jobs if j.state == "PENDING"} == {"JobArrayTaskLimit"}
        pids = {int(p.name.split(".")[1]): int(p.read_text()) for p in tmp_path.glob("gate.*")}
        assert sorted(pids) == list(range(THROTTLE))

        os.kill(cli.pid, sig)
        _, err = cli.communicate(timeout=60)
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.wait()
    assert cli.returncode == 130, err
    assert f"CancelFlow/{run_id} cancelled" in err and "cancelled by the user" in err
    assert f"flow.py resume --origin-run-id {run_id}" in err

    # every element of the array ends CANCELLED, the pending ones too (the running ones may
    # still be COMPLETING: Slurm kills their processes after scancel returns); nothing is queued
    queue = ("squeue", "--noheader", "--array")
    wait_until(lambda: slurm_cluster.command(*queue).stdout == "", 30, what="an empty queue")
    jobs = jobs_by_step(run_jobs(slurm_cluster, "CancelFlow", run_id))
    assert [(j.index, j.state) for j in jobs["work"]] == [(i, "CANCELLED") for i in range(ITEMS)]
    assert [j.state for j in jobs["start"]] == ["COMPLETED"]
    # no task process is left: the workers that ran, and anything under their jobs
    wait_until(lambda: not any(map(alive, pids.values())), 30, what="the workers' exit")
    wait_until(lambda: not slurm_cluster.processes(), 30, what="no job process left")

    end = records.get_run_end("CancelFlow", run_id)
    assert end is not None and end.status == "cancelled"
    work = sorted(records.list_tasks("CancelFlow", run_id, "work"), key=lambda r: r.foreach)
    assert [(r.foreach, r.status) for r in work] == [((i,), "killed") for i in range(THROTTLE)]
    assert all(r.exception and r.exception.type == "TaskKilled" for r in work)

    gate.touch()
    resumed = python(env, flow, "resume", "--with", "slurm", "--store", store)
    assert resumed.returncode == 0, resumed.stderr
    new_id = records.list_runs("CancelFlow")[-1]
    assert new_id != run_id
    run = Run(f"CancelFlow/{new_id}", store=str(store))
    assert run.status == "succeeded" and run.origin_run_id == run_id
    assert run["join"].task.data.total == sum(i * i for i in range(ITEMS))
    jobs = jobs_by_step(run_jobs(slurm_cluster, "CancelFlow", new_id))
    assert sorted(jobs) == ["end", "join", "work"]  # start was cloned, not run
    assert len(jobs["work"]) == ITEMS and {j.state for j in jobs["work"]} == {"COMPLETED"}


@pytest.mark.slow
def test_a_task_cancelled_as_soon_as_its_code_runs_is_recorded_as_killed(
    slurm_cluster: SlurmCluster, tmp_path: Path
) -> None:
    """Its job started since the executor last asked Slurm (every 2 s), and the task wrote no
    start record yet (it does once it ran 0.5 s): it ran all the same."""
    flow, store, gate = tmp_path / "flow.py", tmp_path / "store", tmp_path / "gate"
    env = user_env(slurm_cluster, tmp_path, GATE=str(gate), ITEMS=str(ITEMS))
    cli = _start(env, flow, store)
    try:
        wait_until(lambda: len(list(tmp_path.glob("gate.*"))) == THROTTLE, 60, what="tasks")
        os.kill(cli.pid, signal.SIGTERM)
        _, err = cli.communicate(timeout=60)
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.wait()
    assert cli.returncode == 130, err
    records = open_store(str(store)).records
    (run_id,) = records.list_runs("CancelFlow")
    work = sorted(records.list_tasks("CancelFlow", run_id, "work"), key=lambda r: r.foreach)
    assert [(r.foreach, r.status) for r in work] == [((i,), "killed") for i in range(THROTTLE)]
    assert f"{THROTTLE + 1} tasks" in err  # the summary counts them: start and the killed
