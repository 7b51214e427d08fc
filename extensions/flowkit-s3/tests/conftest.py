"""Fixtures for the S3 tests: a real S3 server, SeaweedFS on 127.0.0.1 (see seaweedfs.py),
one per session. Each test gets its own prefix (``s3_url``) or bucket (``s3_bucket``).

For a subprocess, :meth:`S3Server.env` is the environment that points boto3 at the server
with the test's own AWS configuration files; :func:`s3_env` sets it in this process.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from seaweedfs import (
    SHARED_BUCKET,
    S3Server,
    WeedMissing,
    running,
)

#: Variables of the environment that would let boto3 reach anything but the test server.
_AWS_VARIABLES = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION")


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """SeaweedFS serving S3 on 127.0.0.1 for the whole session, with a bucket for tests."""
    try:
        with running(tmp_path_factory.mktemp("seaweedfs")) as server:
            server.create_bucket(SHARED_BUCKET)
            yield server
    except WeedMissing as exc:
        if os.environ.get("FLOWKIT_REQUIRE_SERVICES") == "1":
            pytest.fail(f"{exc} (FLOWKIT_REQUIRE_SERVICES=1: S3 tests must run)")
        pytest.skip(str(exc))


@pytest.fixture
def s3_env(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """This process's environment set to use the test server (as :meth:`S3Server.env`)."""
    for name in _AWS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    env = s3_server.env()
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def s3_bucket(s3_server: S3Server) -> str:
    """A new, empty bucket of the test's own."""
    return s3_server.create_bucket(f"flowkit-{uuid.uuid4().hex[:16]}")


@pytest.fixture
def s3_url(s3_env: dict[str, str]) -> str:
    """``s3://flowkit-tests/<a prefix of the test's own>``, with :func:`s3_env` set."""
    return f"s3://{SHARED_BUCKET}/t-{uuid.uuid4().hex[:16]}"
