"""``s3://`` URLs: parsed, checked, and reached through the flowkit.stores entry point."""

from __future__ import annotations

import pytest

from flowkit.store import open_store
from flowkit.store.errors import StoreError
from flowkit.store.open import backend_for
from flowkit_s3.backend import S3Backend
from flowkit_s3.errors import S3UrlError
from flowkit_s3.url import S3Url, parse_url


@pytest.mark.parametrize(
    ("url", "bucket", "prefix", "key"),
    [
        ("s3://bkt", "bkt", "", "blobs/ab/cd"),
        ("s3://bkt/", "bkt", "", "blobs/ab/cd"),
        ("s3://my.bucket-1/team", "my.bucket-1", "team", "team/blobs/ab/cd"),
        ("s3://bkt/a/b/c/", "bkt", "a/b/c", "a/b/c/blobs/ab/cd"),
    ],
)
def test_parse(url: str, bucket: str, prefix: str, key: str) -> None:
    where = parse_url(url)
    assert where == S3Url(bucket, prefix)
    assert where.object_key("blobs/ab/cd") == (key if prefix else "blobs/ab/cd")
    assert str(where) == url.rstrip("/")


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("s3://", "'' is not a bucket name"),
        ("s3:///prefix", "'' is not a bucket name"),
        ("s3://ab", "'ab' is not a bucket name"),
        ("s3://Bucket", "'Bucket' is not a bucket name"),
        ("s3://bkt_1", "'bkt_1' is not a bucket name"),
        ("s3://-bkt", "'-bkt' is not a bucket name"),
        ("s3://a..b", "'a..b' is not a bucket name"),
        ("s3://bkt/a//b", "the prefix 'a//b' is not"),
        ("s3://bkt/../up", "the prefix '../up' is not"),
        ("s3://bkt/.hidden", "the prefix '.hidden' is not"),
        ("s3://bkt/a b", "the prefix 'a b' is not"),
        ("s3://bkt/p?versionId=1", "no query"),
        ("http://bkt/p", "does not start with s3://"),
    ],
)
def test_bad_urls_say_what_is_wrong(url: str, why: str) -> None:
    with pytest.raises(S3UrlError) as caught:
        parse_url(url)
    assert why in caught.value.message and repr(url) in caught.value.message
    assert caught.value.hint == "write it as s3://bucket or s3://bucket/some/prefix"
    assert isinstance(caught.value, StoreError)


def test_the_entry_point_opens_s3_urls_without_a_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # nothing is reachable here: opening a store must not make a request (or a client)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    backend = backend_for("s3://bkt/runs/team-a")
    assert isinstance(backend, S3Backend)
    assert (backend.url, backend.shared, backend.remote) == ("s3://bkt/runs/team-a", True, True)
    assert backend._clients.endpoint is None  # no client made yet
    assert open_store("s3://bkt/x").url == "s3://bkt/x"
    with pytest.raises(S3UrlError, match="'Bad' is not a bucket name"):
        open_store("s3://Bad/x")


def test_keys_are_checked_before_any_request() -> None:
    backend = S3Backend("s3://bkt/p")
    with pytest.raises(StoreError, match=r"invalid store key '\.\./x'"):
        backend.get("../x")
    assert backend._clients.endpoint is None
