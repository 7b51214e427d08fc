"""Every graph shape runs with ``--with slurm`` on the test cluster: the artifacts are the
ones a local run gives, and every task was a Slurm job of its own (an array element for a
foreach branch), all COMPLETED.

The six runs go at once (a thread each) so that the cluster runs their jobs side by side.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from slurm_jobs import jobs_by_step, run_jobs
from slurmcluster import SlurmCluster
from tests.runtime.test_shapes import Quiet, check_expected, flow_of

import flowkit
from flowkit.client import Run

#: Each shape, its parameters (a foreach of 4: small, yet an array), and its expected values
#: (those of ``tests/flows`` unless the parameters change them).
SHAPES: dict[str, tuple[dict[str, int], dict | None]] = {
    "linear": ({}, None),
    "branch": ({}, None),
    "foreach": ({"n": 4}, {"join": {"total": 0 + 1 + 4 + 9, "order": [0, 1, 2, 3]}}),
    "nested_foreach": ({}, None),
    "switch": ({}, None),
    "recursion": ({}, None),
}


@pytest.fixture(scope="module")
def shape_runs(
    slurm_cluster: SlurmCluster, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Run]:
    """Each shape's finished run, all six run at once on the cluster."""
    store = str(tmp_path_factory.mktemp("shapes") / "store")

    def run(shape: str) -> Run:
        params = SHAPES[shape][0]
        cls, _ = flow_of(shape)
        return flowkit.run(cls, store=store, with_decorators=["slurm"], progress=Quiet(), **params)

    with pytest.MonkeyPatch.context() as patch:
        for name, value in slurm_cluster.env().items():
            patch.setenv(name, value)
        with ThreadPoolExecutor(len(SHAPES)) as pool:
            runs = dict(zip(SHAPES, pool.map(run, SHAPES), strict=True))
    return runs


@pytest.mark.slow
@pytest.mark.parametrize("shape", SHAPES)
def test_shape_runs_on_slurm_with_the_local_values(
    shape: str, shape_runs: dict[str, Run], slurm_cluster: SlurmCluster
) -> None:
    run = shape_runs[shape]
    assert run.successful and run.finished
    expected = SHAPES[shape][1]
    check_expected(run, expected if expected is not None else flow_of(shape)[1])

    tasks = {step.id: len(list(step)) for step in run}
    jobs = jobs_by_step(run_jobs(slurm_cluster, run.flow_name, run.id))
    assert {step: len(found) for step, found in jobs.items()} == tasks
    assert {job.state for found in jobs.values() for job in found} == {"COMPLETED"}
    for step, found in jobs.items():
        if step in ("square", "outer", "inner"):
            # a foreach's branches go as array elements: one array per split, or fewer
            # (the inner branches of outer branches split at once share one array)
            splits = {"square": 1, "outer": 1, "inner": 3}[step]
            assert all(job.index is not None for job in found), step
            assert 1 <= len({job.array_id for job in found}) <= splits, step
        elif len(found) == 1:
            assert found[0].index is None, step  # a lone task: a job, not an array
