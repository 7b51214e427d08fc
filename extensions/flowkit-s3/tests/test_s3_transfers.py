"""Large objects: multipart uploads in parallel parts, write-once, aborted on failure; reads
that fetch ranges ahead only when the reader is after the data; retries of throttling."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from seaweedfs import SHARED_BUCKET, S3Server

from flowkit.store.errors import KeyNotFoundError
from flowkit_s3.backend import S3Backend
from flowkit_s3.errors import S3AccessDeniedError, S3RequestError, S3UnavailableError
from flowkit_s3.upload import PartsBody

MiB = 1 << 20
DATA = random.Random(13).randbytes(12 * MiB + 12345)


@pytest.fixture
def backend(s3_url: str) -> S3Backend:
    return S3Backend(
        s3_url, multipart_threshold=6 * MiB, part_size=5 * MiB, read_chunk=1 * MiB, threads=3
    )


def _requests(backend: S3Backend, operation: str) -> list[dict[str, Any]]:
    """Every ``operation`` request the backend sends from now on (its headers)."""
    seen: list[dict[str, Any]] = []
    backend._clients().meta.events.register(
        f"before-send.s3.{operation}", lambda request, **_: seen.append(dict(request.headers))
    )
    return seen


class _Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_: Any) -> Any:
        yield self.data


def _answer(status: int, code: str) -> Callable[..., AWSResponse]:
    xml = f"<Error><Code>{code}</Code><Message>{code} injected</Message></Error>".encode()
    return lambda request, **_: AWSResponse(request.url, status, {}, _Body(xml))


def _fail_first(
    backend: S3Backend, operation: str, count: int, status: int, code: str
) -> list[int]:
    """Answer the first ``count`` ``operation`` requests with ``status`` ``code`` instead of
    sending them; the list counts every attempt."""
    attempts: list[int] = []
    answer = _answer(status, code)

    def handler(request: Any, **kwargs: Any) -> AWSResponse | None:
        attempts.append(1)
        return answer(request) if len(attempts) <= count else None

    backend._clients().meta.events.register(f"before-send.s3.{operation}", handler)
    return attempts


def _uploads(s3_server: S3Server, backend: S3Backend) -> list[str]:
    found = s3_server.client().list_multipart_uploads(
        Bucket=SHARED_BUCKET, Prefix=backend.location.root
    )
    return [u["Key"] for u in found.get("Uploads", [])]


def test_a_large_object_goes_up_in_parallel_parts(s3_server: S3Server, backend: S3Backend) -> None:
    parts = _requests(backend, "UploadPart")
    view = memoryview(DATA)
    backend.put("blobs/ab/big", [view[:100], bytearray(view[100 : 7 * MiB]), view[7 * MiB :]])
    assert len(parts) == 3  # 5 + 5 + 2 MiB
    head = s3_server.client().head_object(
        Bucket=SHARED_BUCKET, Key=backend.location.object_key("blobs/ab/big")
    )
    assert head["ETag"].endswith('-3"') and head["ContentLength"] == len(DATA)
    assert backend.get("blobs/ab/big") == DATA
    assert _uploads(s3_server, backend) == [] and list(backend.temporaries()) == []


def test_a_large_put_new_is_write_once(s3_server: S3Server, backend: S3Backend) -> None:
    assert backend.put_new("rec/big", DATA) is True
    other = bytes(reversed(DATA))
    assert backend.put_new("rec/big", other) is False
    assert backend.get("rec/big") == DATA
    assert _uploads(s3_server, backend) == []  # the losing upload was aborted


def test_a_failed_part_aborts_the_upload(s3_server: S3Server, backend: S3Backend) -> None:
    _fail_first(backend, "UploadPart", 1, 403, "AccessDenied")
    with pytest.raises(S3AccessDeniedError, match="while writing blobs/cd/big"):
        backend.put("blobs/cd/big", [DATA])
    assert not backend.exists("blobs/cd/big")
    assert _uploads(s3_server, backend) == [] and list(backend.temporaries()) == []


def test_reading_a_header_fetches_nothing_ahead(backend: S3Backend) -> None:
    backend.put("big", [DATA])
    gets = _requests(backend, "GetObject")
    with backend.open("big") as fh:
        assert fh.read(16) == DATA[:16]
    assert len(gets) == 1


def test_a_large_read_fetches_ranges_ahead(backend: S3Backend) -> None:
    backend.put("big", [DATA])
    gets = _requests(backend, "GetObject")
    into = bytearray(len(DATA))
    with backend.open("big") as fh:
        assert fh.read(10) == DATA[:10]
        view, done = memoryview(into), 10
        into[:10] = DATA[:10]
        while done < len(into):
            count = fh.readinto(view[done : done + 3 * MiB])
            assert count
            done += count
        assert fh.read() == b""
    assert into == DATA
    ranges = sorted(h["Range"].decode() for h in gets)
    assert len(gets) == 13  # the first MiB, then 12 more MiB-sized ranges
    assert f"bytes=12582912-{len(DATA) - 1}" in ranges
    assert "If-Match" not in gets[0]  # the first is not conditional
    assert all(h.get("If-Match") for h in gets[1:])  # the rest read the same version


def test_an_object_replaced_while_read_is_an_error(backend: S3Backend) -> None:
    backend.put("big", [DATA])
    with backend.open("big") as fh:
        fh.read(10)
        backend.put("big", [bytes(reversed(DATA))])
        with pytest.raises(S3RequestError, match=r"big in the S3 store .* was replaced while"):
            fh.read()


def test_an_object_moved_away_while_read_is_missing(backend: S3Backend) -> None:
    backend.put("blobs/ab/big", [DATA])
    with backend.open("blobs/ab/big") as fh:
        assert fh.read(10) == DATA[:10]
        assert backend.move("blobs/ab/big", "trash/1/big")  # what gc does with a blob
        with pytest.raises(KeyNotFoundError, match="no such key in the store: blobs/ab/big"):
            fh.read()
    assert backend.get("trash/1/big") == DATA


def test_whole_reads(backend: S3Backend) -> None:
    backend.put("big", [DATA])
    with backend.open("big") as fh:
        assert fh.read() == DATA
    backend.put("empty", [])
    with backend.open("empty") as fh:
        assert fh.read() == b""


@pytest.mark.parametrize(("status", "code"), [(503, "SlowDown"), (500, "InternalError")])
def test_throttling_and_server_errors_are_retried(
    backend: S3Backend, status: int, code: str
) -> None:
    attempts = _fail_first(backend, "PutObject", 2, status, code)
    assert backend.put_new("rec/1.json", b"{}") is True
    assert len(attempts) == 3
    gets = _fail_first(backend, "GetObject", 1, status, code)
    assert backend.get("rec/1.json") == b"{}"
    assert len(gets) == 2


def test_a_persistent_failure_ends_in_a_clear_error(
    s3_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")
    backend = S3Backend(s3_url)
    attempts = _fail_first(backend, "PutObject", 100, 503, "SlowDown")
    with pytest.raises(S3UnavailableError) as caught:
        backend.put("blobs/ab/cd", [b"x"])
    assert len(attempts) == 2
    assert caught.value.message.startswith(
        f"S3 answered 503 SlowDown while writing blobs/ab/cd in the S3 store {s3_url}, 2 times in a row"
    )
    assert "AWS_MAX_ATTEMPTS" in caught.value.hint


def test_a_conditional_write_conflict_is_retried(backend: S3Backend) -> None:
    attempts = _fail_first(backend, "PutObject", 2, 409, "ConditionalRequestConflict")
    assert backend.put_new("rec/2.json", b"{}") is True
    assert len(attempts) == 3 and backend.get("rec/2.json") == b"{}"


def test_a_parts_body_reads_across_buffers_and_rewinds() -> None:
    body = PartsBody([memoryview(b"abc"), memoryview(b""), memoryview(b"defgh")[1:]])
    assert len(body) == 7
    assert [body.read(2), body.read(2), body.read(10), body.read(1)] == [b"ab", b"ce", b"fgh", b""]
    assert body.seek(2) == 2 and body.read() == b"cefgh"
    assert body.seek(-3, 2) == 4 and body.read(2) == b"fg" and body.tell() == 6
    into = bytearray(5)
    body.seek(1)
    assert body.readinto(into) == 5 and into == b"bcefg"
