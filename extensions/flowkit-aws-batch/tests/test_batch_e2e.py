"""Flows on AWS Batch end to end: moto's Batch as the control plane, the Runner as the data
plane running exactly what was submitted, SeaweedFS as the S3 store."""

from __future__ import annotations

import pytest
from batchsim import BatchServer, Runner
from tests.flows.foreach import ForeachFlow
from tests.runtime.test_shapes import Quiet

import flowkit


@pytest.mark.slow
def test_a_foreach_runs_as_one_array_job(
    batch_server: BatchServer, batch_store: str, batch_runner: Runner
) -> None:
    with_batch = f"batch:queue={batch_server.queue},image=python:3.11"
    run = flowkit.run(
        ForeachFlow, store=batch_store, with_decorators=[with_batch], progress=Quiet(), n=5
    )
    assert run.successful
    assert run["join"].task.data.total == sum(i * i for i in range(5))
    runs = batch_runner.runs
    children = [r for r in runs if r.index is not None]
    assert sorted(r.index for r in children) == [0, 1, 2, 3, 4]
    assert len({r.job_id.split(":")[0] for r in children}) == 1  # one array job
    assert len(runs) == 5 + 3  # start, join and end are single jobs
