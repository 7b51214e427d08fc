"""One run, two executors: steps marked ``@slurm`` are Slurm jobs and the rest run locally
(no ``--with``), or ``--with slurm`` sends every step but a ``@local``-pinned one; the
values are those of an all-local run. A Slurm task's output reaches the console with its
``[step/task]`` prefix and the store (``flowkit logs``), and Slurm's own output file of a
task that succeeded is gone."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from slurm_jobs import job_fields, jobs_by_step, python, run_jobs, user_env
from slurmcluster import SlurmCluster
from tests.flows.mixed_executors import MixedFlow
from tests.runtime.test_shapes import Quiet

import flowkit

#: ``work`` and ``end`` go to Slurm when ON_SLURM is set; every task keeps the id of the
#: Slurm job it ran in (None: it ran locally).
HALF = """\
import os
from flowkit import FlowSpec, slurm, step

on_slurm = slurm(partition="cpu") if os.environ.get("ON_SLURM") else (lambda f: f)


class HalfFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2, 3]
        self.job = os.environ.get("SLURM_JOB_ID")
        self.next(self.work, foreach="items")

    @on_slurm
    @step
    def work(self):
        print(f"working on {self.input}")
        self.value = self.input * 10
        self.job = os.environ.get("SLURM_JOB_ID")
        self.next(self.join)

    @step
    def join(self, inputs):
        self.values = [i.value for i in inputs]
        self.job = os.environ.get("SLURM_JOB_ID")
        self.next(self.end)

    @on_slurm
    @step
    def end(self):
        self.total = sum(self.values)
        print("the total is", self.total)
        self.job = os.environ.get("SLURM_JOB_ID")


if __name__ == "__main__":
    HalfFlow()
"""


def _ok(done: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert done.returncode == 0, done.stdout + done.stderr
    return done


@pytest.mark.slow
def test_only_the_slurm_steps_are_jobs_and_their_output_is_echoed_and_stored(
    slurm_cluster: SlurmCluster, tmp_path: Path
) -> None:
    flow = tmp_path / "half.py"
    flow.write_text(HALF)
    store = str(tmp_path / "store")
    env = user_env(slurm_cluster, tmp_path)  # Slurm's output files: under tmp_path/cache
    on_slurm = _ok(python({**env, "ON_SLURM": "1"}, flow, "run", "--store", store))
    _ok(python(env, flow, "run", "--store", store))

    slurm_run, local_run = sorted(flowkit.Flow("HalfFlow", store=store), key=lambda r: r.id)
    assert slurm_run.successful and local_run.successful
    for run in (slurm_run, local_run):
        assert sorted(t.data.value for t in run["work"]) == [10, 20, 30]
        assert run["join"].task.data.values == [10, 20, 30]
        assert run["end"].task.data.total == 60

    # the decorated steps' tasks, and only they, ran in the jobs squeue lists for them
    jobs = jobs_by_step(run_jobs(slurm_cluster, "HalfFlow", slurm_run.id))
    assert sorted(jobs) == ["end", "work"]
    assert [t.data.job for t in slurm_run["start"]] == [None] == [slurm_run["join"].task.data.job]
    for step in ("work", "end"):
        ran_in = sorted(t.data.job for t in slurm_run[step])
        assert ran_in == sorted(job_fields(slurm_cluster, j.job_id)["JobId"] for j in jobs[step])
        assert {j.state for j in jobs[step]} == {"COMPLETED"}
    assert not any(t.data.job for step in local_run for t in step)

    # echoed once each, with the task's prefix; stored as the task's log
    out = on_slurm.stdout + on_slurm.stderr
    for task in slurm_run["work"]:
        line = f"[work/{task.id}] working on {task.data.value // 10}"
        assert out.count(line) == 1, out
    end_task = slurm_run["end"].task
    assert out.count(f"[end/{end_task.id}] the total is 60") == 1, out
    logs = _ok(
        python(env, "-m", "flowkit", "logs", f"HalfFlow/{slurm_run.id}/end", "--store", store)
    )
    assert logs.stdout == "the total is 60\n"
    assert end_task.stdout == "the total is 60\n"
    # the jobs succeeded: their Slurm output files are gone
    slurm_files = tmp_path / "cache" / "flowkit" / "slurm"
    assert slurm_files.is_dir()
    assert [p for p in slurm_files.rglob("*") if p.is_file()] == []


@pytest.mark.slow
def test_with_slurm_sends_every_step_but_a_local_pinned_one(
    slurm_cluster: SlurmCluster, slurm_env: dict[str, str], tmp_path: Path
) -> None:
    store = str(tmp_path / "store")
    mixed = flowkit.run(MixedFlow, store=store, with_decorators=["slurm"], progress=Quiet(), n=3)
    local = flowkit.run(MixedFlow, store=store, progress=Quiet(), n=3)
    assert mixed.successful and local.successful
    for run in (mixed, local):
        assert run["join"].task.data.total == 6 + 12 + 18
        assert run["join"].task.data.labels == ["ITEM-0", "ITEM-1", "ITEM-2"]
        assert run["end"].task.data.summary == "36/3"
    jobs = jobs_by_step(run_jobs(slurm_cluster, "MixedFlow", mixed.id))
    assert {step: len(found) for step, found in jobs.items()} == {"start": 1, "work": 3, "end": 1}
    assert run_jobs(slurm_cluster, "MixedFlow", local.id) == []
