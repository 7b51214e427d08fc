"""``s3://bucket/prefix`` URLs: parsed once, checked before any request is made."""

from __future__ import annotations

import re
from dataclasses import dataclass

from flowkit.store.errors import InvalidKeyError
from flowkit.store.keys import check_key
from flowkit_s3.errors import S3UrlError

SCHEME = "s3://"

#: S3's rule for bucket names: 3-63 lowercase letters, digits, '.' and '-', starting and
#: ending with a letter or digit.
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


@dataclass(frozen=True)
class S3Url:
    """Where a store lives in S3: every key is stored under ``prefix`` (``""``: the bucket's
    top) in ``bucket``."""

    bucket: str
    prefix: str = ""

    def __str__(self) -> str:
        return f"{SCHEME}{self.bucket}/{self.prefix}" if self.prefix else f"{SCHEME}{self.bucket}"

    def object_key(self, key: str) -> str:
        """The S3 object key that holds the store's ``key``."""
        return f"{self.prefix}/{key}" if self.prefix else key

    @property
    def root(self) -> str:
        """What every object key of the store starts with (``""`` or ``prefix/``)."""
        return f"{self.prefix}/" if self.prefix else ""


def parse_url(url: str) -> S3Url:
    """The bucket and prefix of ``url``; :class:`S3UrlError` saying what is wrong if it is
    not ``s3://bucket[/prefix]``."""
    if not isinstance(url, str) or not url.startswith(SCHEME):
        raise S3UrlError(url, "it does not start with s3://")
    if "?" in url or "#" in url:
        raise S3UrlError(url, "an S3 store URL takes no query (?) or fragment (#)")
    bucket, _, prefix = url[len(SCHEME) :].partition("/")
    if not _BUCKET.fullmatch(bucket) or ".." in bucket:
        raise S3UrlError(
            url,
            f"{bucket!r} is not a bucket name (3-63 lowercase letters, digits, '.' and '-', "
            "starting and ending with a letter or digit)",
        )
    prefix = prefix.rstrip("/")
    if prefix:
        try:
            check_key(prefix)
        except InvalidKeyError:
            raise S3UrlError(
                url,
                f"the prefix {prefix!r} is not '/'-separated names of letters, digits, '_', '-' "
                "and inner '.'",
            ) from None
    return S3Url(bucket, prefix)
