"""The S3 data tool's calls to S3: its client, URL splitting, listing pages, parallel
transfers, and botocore's exceptions said as :class:`S3DataError` for a user."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from flowkit import FlowkitError
from flowkit_s3.client import Clients

#: Transfers at once in ``*_many``.
THREADS = 16

clients = Clients(pool=THREADS)
T = TypeVar("T")
R = TypeVar("R")


class S3DataError(FlowkitError):
    """``S3`` was used wrongly, or S3 refused what it was asked."""


class S3NotFound(S3DataError, KeyError):
    """No object at the URL asked for (a ``KeyError`` too)."""

    def __str__(self) -> str:
        return self.render()


def split_url(url: str) -> tuple[str, str]:
    bucket, _, name = url[len("s3://") :].partition("/")
    return bucket, name


def pages(bucket: str, prefix: str, delimiter: str | None = None) -> Iterator[dict[str, Any]]:
    args = {"Bucket": bucket, "Prefix": prefix, **({"Delimiter": delimiter} if delimiter else {})}
    try:
        yield from clients().get_paginator("list_objects_v2").paginate(**args)
    except Exception as exc:
        raise s3_error(exc, "list", f"s3://{bucket}/{prefix}") from None


def parallel(func: Callable[[T], R], items: list[T]) -> list[R]:
    if len(items) <= 1:
        return [func(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(THREADS, len(items))) as pool:
        return list(pool.map(func, items))


def http_status(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return None
    return response.get("ResponseMetadata", {}).get("HTTPStatusCode")  # type: ignore[no-any-return]


def missing(exc: BaseException) -> bool:
    response = getattr(exc, "response", None)  # None on a connection's errors
    code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
    return http_status(exc) == 404 or code in ("NoSuchKey", "404", "NotFound")


def s3_error(exc: BaseException, doing: str, url: str) -> S3DataError:
    """What botocore raised, said for a user (the store's own errors word the same cases)."""
    if missing(exc):
        return S3NotFound(f"no object at {url}", "check the key; list_paths() shows what is there")
    from flowkit_s3.errors import BOTO_ERRORS

    if not isinstance(exc, BOTO_ERRORS):
        raise exc
    return S3DataError(
        f"could not {doing} {url}: {type(exc).__name__}: {exc}",
        "check the URL, your AWS credentials and their permissions for it",
    )
