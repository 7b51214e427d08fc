"""Metaflow's ``S3`` data tool, for code inside a step: ``with S3(run=self) as s3:
s3.put(key, obj)``, ``s3.get(key).text``, ``get_many``, ``put_many``, ``put_files``,
``get_all``, ``list_paths`` and the rest, with Metaflow's arguments and results.

Found by ``flowkit.S3`` through the ``flowkit.datatools`` entry point. Objects are
downloaded into a temporary folder that ``close()`` (the end of the ``with``) removes.
``S3(run=...)`` keys live under ``<root>/<Flow>/<run_id>/``, the root being
``FLOWKIT_S3_ROOT`` (or Metaflow's ``METAFLOW_DATATOOLS_S3ROOT``).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterable
from typing import Any

from flowkit_s3.s3_calls import (
    S3DataError,
    S3NotFound,
    clients,
    http_status,
    missing,
    pages,
    parallel,
    s3_error,
    split_url,
)
from flowkit_s3.s3_objects import USER_METADATA, S3Object, S3PutObject, put_object

__all__ = ["ROOT_VARIABLES", "S3", "S3DataError", "S3NotFound", "S3Object", "S3PutObject"]

#: Where ``S3(run=...)`` puts a run's keys: ``<root>/<Flow>/<run_id>/<key>``.
ROOT_VARIABLES = ("FLOWKIT_S3_ROOT", "METAFLOW_DATATOOLS_S3ROOT")


class S3:
    """Metaflow's S3 client: ``S3(run=self)`` (keys under the run's prefix), ``S3(s3root=
    "s3://bucket/prefix")`` (keys under it) or ``S3()`` (full ``s3://`` URLs only)."""

    def __init__(
        self,
        tmproot: str = ".",
        bucket: str | None = None,
        prefix: str | None = None,
        run: Any = None,
        s3root: str | None = None,
        encryption: str | None = None,
        **kwargs: Any,
    ) -> None:
        if run is not None:
            self._root: str | None = _run_root(run, bucket, prefix)
        elif s3root:
            if not s3root.startswith("s3://"):
                raise S3DataError(
                    f"s3root {s3root!r} is not an S3 URL", "write it as s3://bucket/prefix"
                )
            self._root = s3root.rstrip("/")
        else:
            self._root = None
        self._encryption = encryption
        self._tmpdir: str | None = tempfile.mkdtemp(dir=tmproot, prefix="flowkit.s3.")

    # -- lifetime -------------------------------------------------------------------------
    def __enter__(self) -> S3:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Remove the downloaded copies (their paths stop working)."""
        if self._tmpdir:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    # -- reading --------------------------------------------------------------------------
    def get(
        self, key: Any = None, return_missing: bool = False, return_info: bool = True
    ) -> S3Object:
        """Download one object; a missing one raises :class:`S3NotFound`, or with
        ``return_missing=True`` comes back with ``exists == False``."""
        return self._get(self._url(key), return_missing)

    def get_many(
        self, keys: Iterable[Any], return_missing: bool = False, return_info: bool = True
    ) -> list[S3Object]:
        """Download several objects at once, in the order of ``keys``."""
        return parallel(lambda url: self._get(url, return_missing), [self._url(k) for k in keys])

    def get_recursive(self, keys: Iterable[Any], return_info: bool = False) -> list[S3Object]:
        """Download every object under each of ``keys``."""
        found = [o.url for o in self.list_recursive(keys)]
        return parallel(lambda url: self._get(url, False), found)

    def get_all(self, return_info: bool = False) -> list[S3Object]:
        """Download every object under the client's root."""
        if self._root is None:
            raise S3DataError("get_all needs a root", "make the client with S3(run=...) or s3root=")
        return self.get_recursive([None])

    def info(self, key: Any = None, return_missing: bool = False) -> S3Object:
        """An object's size, content type and metadata, without downloading it."""
        url = self._url(key)
        bucket, name = split_url(url)
        try:
            head = clients().head_object(Bucket=bucket, Key=name)
        except Exception as exc:
            if missing(exc) and return_missing:
                return S3Object(self._root, url)
            raise s3_error(exc, "read", url) from None
        return self._object(url, None, head)

    def info_many(self, keys: Iterable[Any], return_missing: bool = False) -> list[S3Object]:
        """:meth:`info` for several keys at once."""
        return parallel(lambda key: self.info(key, return_missing), list(keys))

    def list_paths(self, keys: Iterable[Any] | None = None) -> list[S3Object]:
        """What is directly under each key (the root by default): objects, and prefixes
        (``exists == False``) for what lies deeper."""
        out: list[S3Object] = []
        for key in [None] if keys is None else keys:
            base = self._url(key).rstrip("/") + "/"
            bucket, name = split_url(base)
            for page in pages(bucket, name, delimiter="/"):
                for sub in page.get("CommonPrefixes", ()):
                    out.append(S3Object(base, f"s3://{bucket}/{sub['Prefix']}"))
                for obj in page.get("Contents", ()):
                    url = f"s3://{bucket}/{obj['Key']}"
                    out.append(S3Object(base, url, size=int(obj["Size"])))
        return out

    def list_recursive(self, keys: Iterable[Any] | None = None) -> list[S3Object]:
        """Every object under each key (the root by default), however deep."""
        out: list[S3Object] = []
        for key in [None] if keys is None else keys:
            base = self._url(key).rstrip("/") + "/"
            bucket, name = split_url(base)
            for page in pages(bucket, name):
                for obj in page.get("Contents", ()):
                    url = f"s3://{bucket}/{obj['Key']}"
                    out.append(S3Object(self._root or base, url, size=int(obj["Size"])))
        return out

    # -- writing --------------------------------------------------------------------------
    def put(
        self,
        key: Any,
        obj: Any,
        overwrite: bool = True,
        content_type: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> str:
        """Store ``obj`` (bytes, str as UTF-8, or a binary file object) at ``key``; its
        URL. ``overwrite=False`` leaves an existing object as it is."""
        url = self._url(key)
        if isinstance(obj, str):
            obj = obj.encode("utf-8")
        elif hasattr(obj, "read"):
            obj = obj.read()
        if not isinstance(obj, bytes | bytearray | memoryview):
            raise S3DataError(
                f"put({key!r}, ...) was given a {type(obj).__name__}",
                "pass bytes, a str or a binary file object (pickle other values first)",
            )
        self._upload(url, bytes(obj), overwrite, content_type, metadata)
        return url

    def put_many(self, key_objs: Iterable[Any], overwrite: bool = True) -> list[tuple[str, str]]:
        """Store several ``(key, obj)`` pairs (or :class:`S3PutObject`) at once; each key
        with its URL."""
        items = [put_object(item) for item in key_objs]
        return parallel(
            lambda it: (
                it.key,
                self.put(it.key, it.value, overwrite, it.content_type, it.metadata),
            ),
            items,
        )

    def put_files(self, key_paths: Iterable[Any], overwrite: bool = True) -> list[tuple[str, str]]:
        """Upload local files, ``(key, path)`` pairs (or :class:`S3PutObject` with
        ``path``); each key with its URL."""
        items = [put_object(item, files=True) for item in key_paths]
        for item in items:
            if not os.path.isfile(str(item.path)):
                raise S3DataError(f"put_files: no file at {item.path}", "check the local path")

        def one(item: S3PutObject) -> tuple[str, str]:
            with open(str(item.path), "rb") as data:
                url = self.put(item.key, data, overwrite, item.content_type, item.metadata)
            return item.key, url

        return parallel(one, items)

    # -- internals ------------------------------------------------------------------------
    def _url(self, key: Any) -> str:
        key = getattr(key, "key", key)
        if self._root is None:
            if isinstance(key, str) and key.startswith("s3://") and len(key) > len("s3://"):
                return key
            raise S3DataError(
                f"{key!r} is not a full s3:// URL, and this S3 client has no root",
                "use S3(run=self) inside a step, S3(s3root='s3://bucket/prefix'), or full URLs",
            )
        if not key:
            return self._root
        if str(key).startswith("s3://"):
            raise S3DataError(
                f"{key} is a full URL, but this S3 client has a root ({self._root})",
                "give keys relative to the root, or use S3() for full URLs",
            )
        return f"{self._root}/{str(key).lstrip('/')}"

    def _get(self, url: str, return_missing: bool) -> S3Object:
        if self._tmpdir is None:
            raise S3DataError("this S3 client is closed", "use it inside its 'with' block")
        bucket, name = split_url(url)
        try:
            answer = clients().get_object(Bucket=bucket, Key=name)
        except Exception as exc:
            if missing(exc) and return_missing:
                return S3Object(self._root, url)
            raise s3_error(exc, "read", url) from None
        fd, path = tempfile.mkstemp(dir=self._tmpdir)
        try:
            with os.fdopen(fd, "wb") as out:
                shutil.copyfileobj(answer["Body"], out)
        except BaseException as exc:
            os.unlink(path)  # no partial copy is left behind, whatever cut the download
            if isinstance(exc, OSError):
                raise S3DataError(
                    f"could not save {url} to {path}: {exc}",
                    "check the free space and permissions of the S3 client's tmproot",
                ) from None
            if isinstance(exc, Exception):
                raise s3_error(exc, "download", url) from None
            raise
        return self._object(url, path, answer)

    def _object(self, url: str, path: str | None, answer: dict[str, Any]) -> S3Object:
        modified = answer.get("LastModified")
        return S3Object(
            self._root,
            url,
            path,
            size=int(answer.get("ContentLength", 0)),
            content_type=answer.get("ContentType"),
            metadata=answer.get("Metadata"),
            last_modified=int(modified.timestamp()) if modified is not None else None,
        )

    def _upload(
        self,
        url: str,
        data: bytes,
        overwrite: bool,
        content_type: str | None,
        metadata: dict[str, Any] | None,
    ) -> None:
        bucket, name = split_url(url)
        args: dict[str, Any] = {"Bucket": bucket, "Key": name, "Body": data}
        if content_type:
            args["ContentType"] = content_type
        if metadata:
            args["Metadata"] = {USER_METADATA: json.dumps(metadata)}
        if self._encryption:
            args["ServerSideEncryption"] = self._encryption
        if not overwrite:
            args["IfNoneMatch"] = "*"
        try:
            clients().put_object(**args)
        except Exception as exc:
            if not overwrite and http_status(exc) == 412:  # it exists: left as it is
                return
            raise s3_error(exc, "write", url) from None


def _run_root(run: Any, bucket: str | None, prefix: str | None) -> str:
    """``<root>/<Flow>/<run_id>`` for a running step's ``self`` or a client ``Run``."""
    from flowkit import current

    root = next((os.environ[v] for v in ROOT_VARIABLES if os.environ.get(v)), None)
    if root is None:
        raise S3DataError(
            "S3(run=...) needs an S3 root to keep the run's objects under",
            "set FLOWKIT_S3_ROOT=s3://bucket/prefix (or METAFLOW_DATATOOLS_S3ROOT)",
        )
    if not root.startswith("s3://"):
        raise S3DataError(
            f"the S3 root {root!r} is not an S3 URL", "write it as s3://bucket/prefix"
        )
    root_bucket, _, root_prefix = root[len("s3://") :].partition("/")
    pathspec = getattr(run, "pathspec", None)
    if isinstance(pathspec, str) and pathspec.count("/") == 1:  # a client Run: Flow/run_id
        flow, run_id = pathspec.split("/")
    elif current.is_running_flow:
        flow, run_id = current.flow_name, current.run_id
    else:
        raise S3DataError(
            "S3(run=self) works inside a running step only",
            "outside a run, pass a Run (S3(run=Run('Flow/id'))) or s3root=",
        )
    parts = [bucket or root_bucket, (prefix or root_prefix).strip("/"), flow, run_id]
    return "s3://" + "/".join(p for p in parts if p)
