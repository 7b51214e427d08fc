"""Fixtures for the AWS Batch tests: moto's server as Batch (see batchsim.py) and SeaweedFS as
S3 (the S3 extension's test server), one of each per session, and a :class:`Runner` per test
that runs what is submitted.

:func:`batch_env` sets this process's environment to use both (Batch on moto, S3 on
SeaweedFS); :func:`batch_store` is a fresh ``s3://`` prefix; :func:`batch_runner` runs jobs
with that environment, as their IAM role would give it.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from batchsim import BatchServer, MotoMissing, Runner, combined_env, running

S3_TESTS = Path(__file__).resolve().parents[2] / "flowkit-s3" / "tests"
sys.path.insert(0, str(S3_TESTS))
try:
    import seaweedfs
finally:
    sys.path.remove(str(S3_TESTS))

#: Variables of the environment that would let boto3 reach anything but the test servers.
_AWS_VARIABLES = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN")


def _missing(exc: Exception, what: str) -> None:
    if os.environ.get("FLOWKIT_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{exc} (FLOWKIT_REQUIRE_SERVICES=1: {what} must run)")
    pytest.skip(str(exc))


@pytest.fixture(scope="session")
def batch_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BatchServer]:
    """moto's server on 127.0.0.1 as AWS Batch, with the queue ``flowkit-tests``."""
    try:
        with running(tmp_path_factory.mktemp("moto")) as server:
            yield server
    except MotoMissing as exc:
        _missing(exc, "the Batch tests")


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """SeaweedFS on 127.0.0.1 with the bucket ``flowkit-tests``."""
    try:
        with seaweedfs.running(tmp_path_factory.mktemp("seaweedfs")) as server:
            server.create_bucket(seaweedfs.SHARED_BUCKET)
            yield server
    except seaweedfs.WeedMissing as exc:
        _missing(exc, "the S3 test server")


@pytest.fixture
def batch_env(
    batch_server: BatchServer, s3_server: Any, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """This process's environment set to use Batch on moto and S3 on SeaweedFS (as
    :func:`batchsim.combined_env`); returned for subprocesses."""
    for name in [*_AWS_VARIABLES, *(n for n in os.environ if n.startswith("AWS_ENDPOINT_URL"))]:
        monkeypatch.delenv(name, raising=False)
    env = combined_env(batch_server, s3_server.env())
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def batch_store(batch_env: dict[str, str]) -> str:
    """``s3://flowkit-tests/<a prefix of the test's own>``, with :func:`batch_env` set."""
    return f"s3://{seaweedfs.SHARED_BUCKET}/b-{uuid.uuid4().hex[:16]}"


@pytest.fixture
def batch_runner(
    batch_server: BatchServer, batch_env: dict[str, str], tmp_path: Path
) -> Iterator[Runner]:
    """Runs every job submitted to the queue during the test (see :class:`batchsim.Runner`),
    with :func:`batch_env` as what the job's IAM role gives; stopped after the test."""
    with Runner(batch_server, tmp_path / "batch-jobs", batch_env) as runner:
        yield runner
