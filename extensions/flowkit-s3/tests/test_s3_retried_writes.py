"""A conditional write whose answer was lost: S3 stored the object, botocore retried, and the
retry failed the precondition because of that very object. It was written, so put_new says
True (a run's start record, a task's final record); a different object there still wins."""

from __future__ import annotations

import random
from typing import Any

import pytest
from seaweedfs import SHARED_BUCKET, S3Server

from flowkit.store import Store
from flowkit.store.errors import RecordExistsError
from flowkit_s3.backend import S3Backend

MiB = 1 << 20
DATA = random.Random(21).randbytes(12 * MiB + 77)


@pytest.fixture
def backend(s3_url: str) -> S3Backend:
    return S3Backend(s3_url, multipart_threshold=6 * MiB, part_size=5 * MiB, threads=3)


def _lose_first_answers(backend: S3Backend, operation: str) -> list[int]:
    """Have botocore retry each ``operation`` request once, whatever S3 answered its first
    try (as after a 500 or a timeout that came when S3 had done the request); the list
    holds the status of every first answer thrown away."""
    lost: list[int] = []

    def retry_once(attempts: int, response: Any, **_: Any) -> float | None:
        if attempts == 1 and response is not None:
            lost.append(response[0].status_code)
            return 0.0  # seconds to wait before the retry
        return None

    backend._clients().meta.events.register(f"needs-retry.s3.{operation}", retry_once)
    return lost


def test_a_put_new_whose_answer_was_lost_is_written(backend: S3Backend) -> None:
    lost = _lose_first_answers(backend, "PutObject")
    assert backend.put_new("runs/F/1/run.json", b'{"run": 1}') is True
    assert lost == [200]  # stored by the first try; its retry got 412
    assert backend.put_new("runs/F/1/run.json", b'{"run": 2}') is False
    assert lost == [200, 412]  # the retry's 412 came after a 412: not ours
    assert backend.put_new("runs/F/1/run.json", b'{"run": 1}'[:-1]) is False
    assert backend.get("runs/F/1/run.json") == b'{"run": 1}'


def test_a_large_put_new_whose_answer_was_lost_is_written(
    s3_server: S3Server, backend: S3Backend
) -> None:
    lost = _lose_first_answers(backend, "CompleteMultipartUpload")
    assert backend.put_new("rec/big", DATA) is True
    assert lost == [200]
    other = DATA[:-1] + bytes([DATA[-1] ^ 1])  # same size and part count, other bytes
    assert backend.put_new("rec/big", other) is False
    assert lost == [200, 412]
    assert backend.get("rec/big") == DATA
    uploads = s3_server.client().list_multipart_uploads(
        Bucket=SHARED_BUCKET, Prefix=backend.location.root
    )
    assert uploads.get("Uploads", []) == []  # the losing upload was aborted


def test_records_survive_a_lost_answer(backend: S3Backend) -> None:
    store = Store(backend)
    lost = _lose_first_answers(backend, "PutObject")
    store.records.create_run("LostFlow", run_id="r1", steps=["start"])
    start = store.records.start_task("LostFlow", "r1", "start", "t1")
    store.records.finish_task(start.finished("succeeded", artifacts={}))
    assert lost and set(lost) == {200}
    assert store.records.get_task("LostFlow", "r1", "start", "t1").status == "succeeded"
    with pytest.raises(RecordExistsError):
        store.records.create_run("LostFlow", run_id="r1")
