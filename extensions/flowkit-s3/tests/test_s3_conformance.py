"""The core's backend contract, against a real S3 server: small thresholds, so the large
objects the suite writes and reads go through multipart uploads and parallel ranged reads."""

from __future__ import annotations

import pytest

from flowkit.testing import BackendConformance
from flowkit_s3.backend import S3Backend

MiB = 1 << 20


class TestS3Conformance(BackendConformance):
    @pytest.fixture
    def backend(self, s3_url: str) -> S3Backend:
        return S3Backend(
            s3_url, multipart_threshold=6 * MiB, part_size=5 * MiB, read_chunk=2 * MiB, threads=4
        )


class TestS3ConformanceAtTheBucketRoot(BackendConformance):
    """A store that is a whole bucket (no prefix), with the default sizes."""

    @pytest.fixture
    def backend(self, s3_env: dict[str, str], s3_bucket: str) -> S3Backend:
        return S3Backend(f"s3://{s3_bucket}")
