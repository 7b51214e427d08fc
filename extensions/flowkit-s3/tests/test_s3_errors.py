"""What a user sees when the bucket, the credentials or the endpoint are wrong: one clear
flowkit error naming the store and what to do, never a botocore traceback."""

from __future__ import annotations

import socket

import pytest
from seaweedfs import READER_KEY, READER_SECRET, S3Server

from flowkit.store import Store
from flowkit_s3.backend import S3Backend
from flowkit_s3.errors import (
    S3AccessDeniedError,
    S3BucketNotFoundError,
    S3CredentialsError,
    S3UnreachableError,
)


def _use(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)


def test_missing_bucket(s3_server: S3Server, s3_env: dict[str, str]) -> None:
    backend = S3Backend("s3://no-such-bucket-here/runs")
    with pytest.raises(S3BucketNotFoundError) as caught:
        Store(backend).records.create_run("AFlow")
    error = caught.value
    assert error.message.startswith(
        f"the bucket of the S3 store s3://no-such-bucket-here/runs does not exist at "
        f"{s3_server.endpoint} (while writing runs/AFlow/"
    )
    assert "aws s3 mb s3://BUCKET" in error.hint and "AWS_ENDPOINT_URL" in error.hint
    for read in (lambda: backend.get("k"), lambda: backend.list("runs")):
        with pytest.raises(S3BucketNotFoundError):
            read()


def test_rejected_credentials(
    s3_server: S3Server, s3_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _use(monkeypatch, {"AWS_SECRET_ACCESS_KEY": "not-the-secret"})
    with pytest.raises(S3CredentialsError) as caught:
        S3Backend(s3_url).put_new("runs/F/1/run.json", b"{}")
    assert caught.value.message.startswith(
        f"S3 rejected the AWS credentials while writing runs/F/1/run.json in the S3 store "
        f"{s3_url}: SignatureDoesNotMatch"
    )
    assert "AWS_ACCESS_KEY_ID" in caught.value.hint and "AWS_PROFILE" in caught.value.hint
    _use(monkeypatch, {"AWS_ACCESS_KEY_ID": "nobody-knows-me"})
    with pytest.raises(S3CredentialsError, match="InvalidAccessKeyId"):
        S3Backend(s3_url).get("k")


def test_no_credentials(s3_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(S3CredentialsError) as caught:
        S3Backend(s3_url).list("runs")
    assert caught.value.message.startswith(f"no AWS credentials for the S3 store {s3_url}")
    assert "aws sts get-caller-identity" in caught.value.hint


def test_access_denied(s3_server: S3Server, s3_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    S3Backend(s3_url).put("readable", [b"x"])
    _use(monkeypatch, s3_server.env(READER_KEY, READER_SECRET))
    reader = S3Backend(s3_url)
    assert reader.get("readable") == b"x"  # reading is allowed, writing is not
    with pytest.raises(S3AccessDeniedError) as caught:
        reader.put("blobs/ab/cd", [b"data"])
    assert caught.value.message.startswith(
        f"S3 denied access while writing blobs/ab/cd in the S3 store {s3_url}"
    )
    assert "s3:PutObject" in caught.value.hint


def test_unreachable_endpoint(s3_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    _use(monkeypatch, {"AWS_ENDPOINT_URL": closed, "AWS_MAX_ATTEMPTS": "2"})
    with pytest.raises(S3UnreachableError) as caught:
        S3Backend(s3_url).get("runs/F/1/run.json")
    assert caught.value.message.startswith(
        f"could not reach S3 at {closed} while reading runs/F/1/run.json in the S3 store {s3_url}"
    )
    assert "AWS_ENDPOINT_URL" in caught.value.hint


def test_the_s3_specific_endpoint_variable_is_honoured(
    s3_server: S3Server, s3_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # boto3's standard configuration, not a flowkit setting: AWS_ENDPOINT_URL_S3 wins
    _use(
        monkeypatch,
        {"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_ENDPOINT_URL_S3": s3_server.endpoint},
    )
    backend = S3Backend(s3_url)
    backend.put("k", [b"v"])
    assert backend.get("k") == b"v"
    assert backend._clients.endpoint == s3_server.endpoint
