"""``@resources``, ``@slurm`` and ``@timeout`` reach the job: what ``scontrol show job``
says of each step's job after one run (``--with slurm``; squeue and scontrol keep a finished
job for MinJobAge), and what the task saw inside it.

The test cluster has no accounting: ``--account`` is kept as given, ``--qos`` is taken but
not kept (scontrol shows ``QOS=(null)``), so only the account is checked by its field.
"""

from __future__ import annotations

import pytest
from slurm_jobs import job_fields, jobs_by_step, run_jobs
from slurmcluster import SlurmCluster
from tests.runtime.test_shapes import Quiet

import flowkit
from flowkit.client import Run

FLOW = """\
import os
from flowkit import FlowSpec, resources, slurm, step, timeout

SEEN = ("SLURM_JOB_PARTITION", "SLURM_CPUS_PER_TASK", "CUDA_VISIBLE_DEVICES")


def seen():
    return {name: os.environ.get(name) for name in SEEN}


class RequestsFlow(FlowSpec):
    @step
    def start(self):
        self.seen = seen()
        self.next(self.full, self.gpus, self.timed, self.timed_with_time)

    @resources(cpu=3, memory=500, gpu=1)
    @slurm(partition="gpu", constraint="fast", time=7, account="ml", qos="normal",
           extra=["--comment=flowkit-e2e", "--nice=10"])
    @step
    def full(self):
        self.seen = seen()
        self.next(self.join)

    @resources(gpu=1)
    @slurm(gpu_flag="gpus")
    @step
    def gpus(self):
        self.seen = seen()
        self.next(self.join)

    @timeout(seconds=30)
    @step
    def timed(self):
        self.seen = seen()
        self.next(self.join)

    @timeout(seconds=30)
    @slurm(time=7)
    @step
    def timed_with_time(self):
        self.seen = seen()
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass
"""


@pytest.fixture(scope="module")
def requests_run(
    slurm_cluster: SlurmCluster, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Run, dict[str, dict[str, str]]]:
    """The run, and the ``scontrol show job`` fields of each step's job."""
    folder = tmp_path_factory.mktemp("requests")
    (folder / "requests_flow.py").write_text(FLOW)
    with pytest.MonkeyPatch.context() as patch:
        for name, value in slurm_cluster.env().items():
            patch.setenv(name, value)
        run = flowkit.run(
            str(folder / "requests_flow.py"), store=str(folder / "store"),
            with_decorators=["slurm"], progress=Quiet(),
        )  # fmt: skip
    assert run.successful
    jobs = jobs_by_step(run_jobs(slurm_cluster, run.flow_name, run.id))
    assert {step: len(found) for step, found in jobs.items()} == {s.id: 1 for s in run}
    return run, {step: job_fields(slurm_cluster, found[0].job_id) for step, found in jobs.items()}


def _seen(run: Run, step: str) -> dict[str, str | None]:
    return run[step].task.data.seen


@pytest.mark.slow
def test_resources_and_slurm_options_reach_the_job(
    requests_run: tuple[Run, dict[str, dict[str, str]]],
) -> None:
    run, fields = requests_run
    full = fields["full"]
    assert full["JobState"] == "COMPLETED"
    assert (full["NumCPUs"], full["CPUs/Task"]) == ("3", "3")
    assert full["MinMemoryNode"] == "500M" and "mem=500M" in full["TRES"].split(",")
    assert full["TresPerNode"] == "gres:gpu:1"
    assert full["Partition"] == "gpu"
    assert full["Features"] == "fast"
    assert full["TimeLimit"] == "00:07:00"
    assert full["Account"] == "ml"
    assert full["Comment"] == "flowkit-e2e" and full["Nice"] == "10"  # extra=[...]
    seen = _seen(run, "full")
    assert seen["SLURM_JOB_PARTITION"] == "gpu" and seen["SLURM_CPUS_PER_TASK"] == "3"
    assert seen["CUDA_VISIBLE_DEVICES"] is not None  # Slurm gave the job a GPU


@pytest.mark.slow
def test_a_step_without_requests_gets_the_clusters_defaults(
    requests_run: tuple[Run, dict[str, dict[str, str]]],
) -> None:
    run, fields = requests_run
    start = fields["start"]
    assert (start["NumCPUs"], start["Partition"], start["TimeLimit"]) == ("1", "debug", "UNLIMITED")
    assert "TresPerNode" not in start and "TresPerJob" not in start
    assert start["Account"] == "(null)" and start["Features"] == "(null)"
    assert _seen(run, "start")["SLURM_JOB_PARTITION"] == "debug"
    assert _seen(run, "start")["CUDA_VISIBLE_DEVICES"] is None


@pytest.mark.slow
def test_gpu_flag_gpus_asks_per_job(requests_run: tuple[Run, dict[str, dict[str, str]]]) -> None:
    gpus = requests_run[1]["gpus"]
    assert gpus["TresPerJob"] == "gres:gpu:1"
    assert "TresPerNode" not in gpus


@pytest.mark.slow
def test_a_timeout_becomes_the_time_limit_with_a_margin_and_time_wins(
    requests_run: tuple[Run, dict[str, dict[str, str]]],
) -> None:
    fields = requests_run[1]
    assert fields["timed"]["TimeLimit"] == "00:03:00"  # 30 s + 120 s, in whole minutes
    assert fields["timed_with_time"]["TimeLimit"] == "00:07:00"
