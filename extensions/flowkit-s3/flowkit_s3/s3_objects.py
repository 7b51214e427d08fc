"""What the S3 data tool hands back and takes: :class:`S3Object` (an object or prefix,
with its local copy once downloaded) and :class:`S3PutObject` (one object to put)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

#: The object metadata key Metaflow keeps user metadata in (JSON), so each reads the other's.
USER_METADATA = "metaflow-user-attributes"


@dataclass(frozen=True)
class S3PutObject:
    """One object for :meth:`S3.put_many` (``value``) or :meth:`S3.put_files` (``path``)."""

    key: str
    value: Any = None
    path: str | None = None
    content_type: str | None = None
    metadata: dict[str, Any] | None = None


class S3Object:
    """An object (or, from ``list_paths``, a prefix) in S3, with its local copy once
    downloaded: ``url``, ``key`` (relative to the client's root), ``blob``, ``text``, ``path``."""

    def __init__(
        self,
        prefix: str | None,
        url: str,
        path: str | None = None,
        size: int | None = None,
        content_type: str | None = None,
        metadata: dict[str, str] | None = None,
        last_modified: int | None = None,
    ) -> None:
        self._url, self._path, self._size = url, path, size
        self._content_type, self._last_modified = content_type, last_modified
        user = (metadata or {}).get(USER_METADATA)
        self._metadata = json.loads(user) if user else None
        if prefix is None or prefix == url:
            self._prefix, self._key = None, url
        else:
            self._prefix, self._key = prefix, url[len(prefix.rstrip("/")) + 1 :].rstrip("/")

    exists = property(lambda self: self._size is not None, doc="It is an object, not a prefix.")
    downloaded = property(lambda self: bool(self._path), doc="Its content is here, locally.")
    url = property(lambda self: self._url, doc="``s3://bucket/key``")
    prefix = property(lambda self: self._prefix, doc="The root its ``key`` is relative to.")
    key = property(lambda self: self._key, doc="Its key, relative to the client's root.")
    path = property(lambda self: self._path, doc="Its local copy, once downloaded.")
    size = property(lambda self: self._size, doc="Its size in bytes.")
    metadata = property(lambda self: self._metadata, doc="The metadata it was put with.")
    content_type = property(lambda self: self._content_type, doc="Its content type.")
    last_modified = property(lambda self: self._last_modified, doc="Seconds since the epoch.")
    has_info = property(lambda self: self._content_type is not None or self._metadata is not None)

    @property
    def blob(self) -> bytes | None:
        """Its content, if downloaded."""
        if not self._path:
            return None
        with open(self._path, "rb") as data:
            return data.read()

    @property
    def text(self) -> str | None:
        """Its content as UTF-8 text, if downloaded."""
        blob = self.blob
        return None if blob is None else blob.decode("utf-8")

    def __repr__(self) -> str:
        return f"<S3Object {self._url}{' (downloaded)' if self._path else ''}>"


def put_object(item: Any, files: bool = False) -> S3PutObject:
    if isinstance(item, S3PutObject):
        return item
    key, value = item
    return S3PutObject(key, path=value) if files else S3PutObject(key, value=value)
