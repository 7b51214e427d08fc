"""A foreach goes to Slurm as one job array: 200 splits are one ``sbatch --array`` (one job
id, 200 elements), and ``--max-workers N`` throttles the array (``%N``) where nothing else
does."""

from __future__ import annotations

from pathlib import Path

import pytest
from slurm_jobs import Job, job_fields, jobs_by_step, run_jobs
from slurmcluster import SlurmCluster
from tests.flows.foreach import ForeachFlow
from tests.runtime.test_shapes import Quiet

import flowkit

WIDE = 200


def _square_jobs(cluster: SlurmCluster, run: flowkit.Run) -> list[Job]:
    jobs = jobs_by_step(run_jobs(cluster, run.flow_name, run.id))
    assert set(jobs) == {"start", "square", "join", "end"}
    assert [len(jobs[s]) for s in ("start", "join", "end")] == [1, 1, 1]
    return jobs["square"]


@pytest.mark.slow
def test_a_foreach_of_200_is_one_job_array(
    slurm_cluster: SlurmCluster, slurm_env: dict[str, str], tmp_path: Path
) -> None:
    run = flowkit.run(
        ForeachFlow, store=str(tmp_path / "store"), with_decorators=["slurm"],
        progress=Quiet(), n=WIDE,
    )  # fmt: skip
    assert run.successful
    join = run["join"].task.data
    assert join.total == sum(i * i for i in range(WIDE))
    assert join.order == list(range(WIDE))
    assert sorted(t.data.value for t in run["square"]) == sorted(i * i for i in range(WIDE))

    square = _square_jobs(slurm_cluster, run)
    # one sbatch for the fan-out: one array id, an element per split, each ran
    assert len({job.array_id for job in square}) == 1
    assert sorted(job.index for job in square if job.index is not None) == list(range(WIDE))
    assert {job.state for job in square} == {"COMPLETED"}
    assert {job.job_id for job in square} == {f"{square[0].array_id}_{i}" for i in range(WIDE)}
    # no --max-workers: the cluster's queue decides, the array has no throttle
    fields = job_fields(slurm_cluster, square[0].job_id)
    assert fields["ArrayJobId"] == square[0].array_id
    assert fields.get("ArrayTaskThrottle", "0") == "0", fields


@pytest.mark.slow
def test_max_workers_throttles_the_array(
    slurm_cluster: SlurmCluster, slurm_env: dict[str, str], tmp_path: Path
) -> None:
    run = flowkit.run(
        ForeachFlow, store=str(tmp_path / "store"), with_decorators=["slurm"],
        progress=Quiet(), n=5, max_workers=3,
    )  # fmt: skip
    assert run.successful and run["join"].task.data.total == sum(i * i for i in range(5))
    square = _square_jobs(slurm_cluster, run)
    assert len({job.array_id for job in square}) == 1 and len(square) == 5
    for job in square:
        fields = job_fields(slurm_cluster, job.job_id)
        assert fields["ArrayTaskThrottle"] == "3", fields
