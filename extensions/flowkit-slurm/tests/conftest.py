"""Fixtures for the Slurm tests: a real single-node Slurm cluster on 127.0.0.1 (see
slurmcluster.py), one per session.

For a subprocess, :meth:`SlurmCluster.env` is the environment that points Slurm's commands
at the cluster; :func:`slurm_env` sets it in this process.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from slurmcluster import SlurmCluster, SlurmMissing, running


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlurmCluster]:
    """A Slurm cluster (munged, slurmctld, slurmd) on 127.0.0.1 for the whole session."""
    try:
        with running(tmp_path_factory.mktemp("slurm")) as cluster:
            yield cluster
    except SlurmMissing as exc:
        if os.environ.get("FLOWKIT_REQUIRE_SERVICES") == "1":
            pytest.fail(f"{exc} (FLOWKIT_REQUIRE_SERVICES=1: Slurm tests must run)")
        pytest.skip(str(exc))


@pytest.fixture
def slurm_env(
    slurm_cluster: SlurmCluster, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> dict[str, str]:
    """This process's environment set to use the test cluster (as :meth:`SlurmCluster.env`),
    with a cache folder of the test's own: Slurm's output files of failed jobs (and the code
    packages jobs extract) stay out of the user's ~/.cache."""
    env = {**slurm_cluster.env(), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env
