"""A foreach wider than the cluster's ``MaxArraySize`` goes as several arrays (each no wider
than allowed) instead of being refused, and its values are the local ones. A cluster of its
own, with ``MaxArraySize=5``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from slurm_jobs import jobs_by_step, run_jobs
from slurmcluster import SlurmCluster, running
from tests.flows.foreach import ForeachFlow
from tests.runtime.test_shapes import Quiet

import flowkit


@pytest.fixture(scope="module")
def small_arrays(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlurmCluster]:
    with running(tmp_path_factory.mktemp("arr"), settings={"MaxArraySize": "5"}) as cluster:
        yield cluster


@pytest.mark.slow
def test_a_foreach_wider_than_max_array_size_goes_as_several_arrays(
    small_arrays: SlurmCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in small_arrays.env().items():
        monkeypatch.setenv(name, value)
    run = flowkit.run(
        ForeachFlow, store=str(tmp_path), with_decorators=["slurm"], progress=Quiet(), n=12
    )
    assert run["join"].task.data.total == sum(i * i for i in range(12))
    squares = jobs_by_step(run_jobs(small_arrays, "ForeachFlow", run.id))["square"]
    widths = Counter(job.array_id for job in squares)
    assert sorted(widths.values()) == [2, 5, 5]  # indexes 0-4, 0-4, 0-1: all below 5
    assert sorted(job.index for job in squares) == sorted([*range(5), *range(5), 0, 1])
