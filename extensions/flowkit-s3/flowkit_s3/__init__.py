"""flowkit's S3 store: ``s3://bucket/prefix`` wherever a store path goes.

Registered as the ``s3`` scheme of the ``flowkit.stores`` entry-point group; importing this
package imports nothing else (boto3 loads on the first request).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flowkit_s3.backend import S3Backend

__all__ = ["open_s3"]


def open_s3(url: str) -> S3Backend:
    """The ``flowkit.stores`` factory: the backend of the store at ``url`` (checked now, so a
    malformed URL fails at once; no request is made)."""
    from flowkit_s3.backend import S3Backend

    return S3Backend(url)
