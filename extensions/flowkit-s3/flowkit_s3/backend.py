"""The S3 backend: one object per key under ``s3://bucket/prefix``, through boto3.

Requests per call: ``put``/``put_new`` of a small object, ``get``, ``size``, ``exists``,
``delete``: one each; ``open``: one, plus one per further chunk of a large object;
``list``/``scan``: one per 1,000 names; ``move``: three (HEAD, conditional copy,
conditional delete); a large ``put``: 2 + one per part. A ``put_new`` that botocore retried
and that then failed its precondition adds one (a GET or HEAD: was the object there ours?).
"""

from __future__ import annotations

import contextlib
import io
import random
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from flowkit.store.backend import Bytes, ObjectInfo, Reader, Temporary
from flowkit.store.errors import KeyNotFoundError
from flowkit.store.keys import check_key
from flowkit_s3.client import Clients
from flowkit_s3.errors import (
    BOTO_ERRORS,
    S3RequestError,
    S3StoreError,
    error_code,
    status_of,
    translate,
)
from flowkit_s3.reader import ObjectReader
from flowkit_s3.upload import as_views, multipart_etag, part_ranges, upload_parts
from flowkit_s3.url import parse_url

#: How a temporary's name joins the key of an incomplete upload and its upload id (no key
#: holds '#').
_UPLOAD = "#upload="
#: Tries of a conditional write that S3 answers 409 ConditionalRequestConflict (another
#: conditional write to the key was in flight): after them, one more conflict is an error.
_CONFLICT_TRIES = 6
#: CopyObject copies at most 5 GB; larger objects are copied part by part.
_MAX_COPY = 5 * 1000**3


def _missing(exc: ClientError) -> bool:
    """Whether S3 said the key holds no object (a missing bucket is an error of its own)."""
    return status_of(exc) == 404 and error_code(exc) != "NoSuchBucket"


def _retries(exc: ClientError) -> int:
    """How many times botocore retried the request that S3 answered with ``exc``."""
    return int(exc.response.get("ResponseMetadata", {}).get("RetryAttempts", 0))


def _code_is(*codes: str) -> Callable[[ClientError], bool]:
    return lambda exc: error_code(exc) in codes


class S3Backend:
    """Objects in an S3 bucket (or an S3-compatible server: ``AWS_ENDPOINT_URL``).

    The sizes set how large transfers go: an object over ``multipart_threshold`` bytes is
    written as a multipart upload of ``part_size`` parts, ``threads`` at a time; a read
    fetches ``read_chunk`` bytes per request past the first, up to ``read_ahead`` chunks
    ahead of the reader, ``threads`` at a time.
    """

    shared = True
    remote = True

    def __init__(
        self,
        url: str,
        *,
        multipart_threshold: int = 16 << 20,
        part_size: int = 8 << 20,
        read_chunk: int = 8 << 20,
        read_ahead: int = 8,
        threads: int = 8,
    ) -> None:
        self.location = parse_url(url)
        self.url = str(self.location)
        self.bucket = self.location.bucket
        self.multipart_threshold = multipart_threshold
        self.part_size = part_size
        self.read_chunk = read_chunk
        self.read_ahead = read_ahead
        self.threads = threads
        # a reader's and a writer's threads at once, and the core's parallel checks
        self._clients = Clients(pool=2 * threads + 16)

    def __repr__(self) -> str:
        return f"S3Backend({self.url!r})"

    # -- requests ---------------------------------------------------------------------------

    def _key(self, key: str) -> str:
        return self.location.object_key(check_key(key))

    def _error(self, exc: BaseException, doing: str) -> S3StoreError:
        return translate(exc, self.url, doing, self._clients.endpoint)

    def _ask(
        self,
        operation: str,
        doing: str,
        handled: Callable[[ClientError], bool] | None = None,
        /,
        **params: Any,
    ) -> Any:
        """Make one request; an S3 error that ``handled`` accepts is raised as it is (for
        the caller to act on), any other is a flowkit error saying what was being done."""
        try:
            return getattr(self._clients(), operation)(Bucket=self.bucket, **params)
        except ClientError as exc:
            if handled is not None and handled(exc):
                raise
            raise self._error(exc, doing) from None
        except BotoCoreError as exc:
            raise self._error(exc, doing) from None

    def _conditional(
        self, operation: str, doing: str, ours: Callable[[], bool], **params: Any
    ) -> bool:
        """A write with a precondition: False if S3 says it does not hold (412), after
        retrying the conflicts (409) that racing conditional writes get.

        botocore retries a request whose answer was lost (a 500 or a timeout after S3 had
        stored the object), and the retry then fails the precondition because of the
        object the first try wrote: after a retry, a 412 means "not written" only if
        ``ours()`` says the object there is not the one this call wrote."""
        retried = False
        for attempt in range(_CONFLICT_TRIES):
            try:
                self._ask(
                    operation,
                    doing,
                    _code_is("PreconditionFailed", "ConditionalRequestConflict"),
                    **params,
                )
            except ClientError as exc:
                retried = retried or _retries(exc) > 0
                if error_code(exc) == "PreconditionFailed":
                    return retried and ours()
                if attempt == _CONFLICT_TRIES - 1:
                    raise self._error(exc, doing) from None
                time.sleep(random.uniform(0, 0.05 * 2**attempt))
                continue
            return True
        raise AssertionError("unreachable")

    # -- writes -----------------------------------------------------------------------------

    def put(self, key: str, parts: Sequence[Bytes]) -> None:
        self._write(key, parts, new=False)

    def put_new(self, key: str, data: Bytes) -> bool:
        return self._write(key, [data], new=True)

    def _write(self, key: str, parts: Sequence[Bytes], *, new: bool) -> bool:
        name = self._key(key)
        views = as_views(parts)
        size = sum(v.nbytes for v in views)
        doing = f"writing {key}"
        condition = {"IfNoneMatch": "*"} if new else {}
        if size > self.multipart_threshold:
            return self._multipart(name, views, size, doing, condition)
        only = parts[0] if len(parts) == 1 else None
        body = only if isinstance(only, bytes | bytearray) else b"".join(views)
        if new:
            return self._conditional(
                "put_object",
                doing,
                lambda: self._holds(name, body, doing),
                Key=name,
                Body=body,
                **condition,
            )
        self._ask("put_object", doing, Key=name, Body=body)
        return True

    def _multipart(
        self, name: str, views: list[memoryview], size: int, doing: str, condition: dict[str, str]
    ) -> bool:
        upload_id = self._ask("create_multipart_upload", doing, Key=name)["UploadId"]
        try:
            parts = upload_parts(
                lambda number, body: self._ask(
                    "upload_part",
                    doing,
                    Key=name,
                    UploadId=upload_id,
                    PartNumber=number,
                    Body=body,
                )["ETag"],
                views,
                part_ranges(size, self.part_size),
                self.threads,
            )
            done = self._conditional(
                "complete_multipart_upload",
                doing,
                lambda: self._tagged(name, multipart_etag(parts), size, doing),
                Key=name,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
                **condition,
            )
        except BaseException:
            self._abort(name, upload_id)
            raise
        if not done:  # a failed precondition leaves the upload open
            self._abort(name, upload_id)
        return done

    def _holds(self, name: str, body: bytes | bytearray, doing: str) -> bool:
        """Whether the object ``name`` holds exactly ``body`` (a small one: read whole)."""
        try:
            answer = self._ask("get_object", doing, _missing, Key=name)
        except ClientError:
            return False
        if int(answer["ContentLength"]) != len(body):
            answer["Body"].close()
            return False
        try:
            stored: bytes = answer["Body"].read()
        except BOTO_ERRORS as exc:
            raise self._error(exc, doing) from None
        return stored == body

    def _tagged(self, name: str, etag: str, size: int, doing: str) -> bool:
        """Whether the object ``name`` is the ``size``-byte multipart object whose ETag S3
        computes as ``etag`` (from its parts: see :func:`multipart_etag`)."""
        try:
            head = self._ask("head_object", doing, _missing, Key=name)
        except ClientError:
            return False
        return bool(head["ETag"] == etag and int(head["ContentLength"]) == size)

    def _abort(self, name: str, upload_id: str) -> None:
        # an abort that fails too leaves an incomplete upload, which fsck reports and
        # `fsck --repair` aborts later; the error that made us abort is the one to raise
        with contextlib.suppress(*BOTO_ERRORS):
            self._clients().abort_multipart_upload(Bucket=self.bucket, Key=name, UploadId=upload_id)

    # -- reads ------------------------------------------------------------------------------

    def get(self, key: str) -> bytes:
        doing = f"reading {key}"
        try:
            answer = self._ask("get_object", doing, _missing, Key=self._key(key))
        except ClientError:
            raise KeyNotFoundError(key) from None
        try:
            data: bytes = answer["Body"].read()
        except BOTO_ERRORS as exc:
            raise self._error(exc, doing) from None
        return data

    def open(self, key: str) -> Reader:
        name, doing = self._key(key), f"reading {key}"
        try:
            answer = self._ask(
                "get_object",
                doing,
                lambda e: _missing(e) or error_code(e) == "InvalidRange",
                Key=name,
                Range=f"bytes=0-{self.read_chunk - 1}",
            )
        except ClientError as exc:
            if error_code(exc) == "InvalidRange":
                return io.BytesIO(b"")  # only an empty object has no byte 0
            raise KeyNotFoundError(key) from None
        first = int(answer["ContentLength"])
        whole = answer.get("ContentRange")  # absent when the server sent the whole object
        size = int(whole.rsplit("/", 1)[1]) if whole else first
        etag = answer["ETag"]

        def fetch(start: int, end: int) -> bytes:
            part = self._ask(
                "get_object",
                doing,
                lambda e: _missing(e) or error_code(e) == "PreconditionFailed",
                Key=name,
                Range=f"bytes={start}-{end - 1}",
                IfMatch=etag,
            )
            data: bytes = part["Body"].read()
            return data

        return ObjectReader(
            answer["Body"],
            size,
            first,
            fetch,
            chunk=self.read_chunk,
            threads=self.threads,
            ahead=self.read_ahead,
            on_error=lambda exc: self._read_error(exc, key),
        )

    def _read_error(self, exc: BaseException, key: str) -> BaseException:
        if isinstance(exc, ClientError) and _missing(exc):
            # deleted (or moved away: gc's trash, fsck's quarantine) after the read began:
            # missing, as for a key gone before it (locally, a rename does not cut a read
            # short; here the rest of the object is gone)
            return KeyNotFoundError(key)
        if isinstance(exc, ClientError) and error_code(exc) == "PreconditionFailed":
            return S3RequestError(
                f"{key} in the S3 store {self.url} was replaced while it was being read",
                "read it again",
            )
        if isinstance(exc, EOFError):
            return S3RequestError(
                f"reading {key} from the S3 store {self.url}: {exc}", "read it again"
            )
        if isinstance(exc, BOTO_ERRORS):
            return self._error(exc, f"reading {key}")
        return exc

    def exists(self, key: str) -> bool:
        return self.size(key) is not None

    def size(self, key: str) -> int | None:
        try:
            answer = self._ask("head_object", f"looking up {key}", _missing, Key=self._key(key))
        except ClientError:
            return None
        return int(answer["ContentLength"])

    def _pages(self, doing: str, **params: Any) -> Iterator[dict[str, Any]]:
        """Every page of a ListObjectsV2 (1,000 keys a page)."""
        token: dict[str, str] = {}
        while True:
            page: dict[str, Any] = self._ask("list_objects_v2", doing, **params, **token)
            yield page
            if not page.get("IsTruncated"):
                return
            token = {"ContinuationToken": page["NextContinuationToken"]}

    def list(self, prefix: str) -> list[str]:
        start = self.location.object_key(check_key(prefix)) + "/" if prefix else self.location.root
        names: set[str] = set()
        for page in self._pages(f"listing {prefix or 'the store'}", Prefix=start, Delimiter="/"):
            names.update(o["Key"][len(start) :] for o in page.get("Contents", ()))
            names.update(p["Prefix"][len(start) : -1] for p in page.get("CommonPrefixes", ()))
        names.discard("")
        return sorted(names)

    def scan(self, prefix: str) -> Iterator[ObjectInfo]:
        start = self.location.object_key(check_key(prefix)) + "/" if prefix else self.location.root
        root = len(self.location.root)
        for page in self._pages(f"listing {prefix or 'the store'}", Prefix=start):
            for item in page.get("Contents", ()):
                yield ObjectInfo(
                    item["Key"][root:], int(item["Size"]), item["LastModified"].timestamp()
                )

    # -- removal ----------------------------------------------------------------------------

    def delete(self, key: str) -> None:
        self._ask("delete_object", f"deleting {key}", Key=self._key(key))

    def move(self, key: str, to: str) -> bool:
        """Copy ``key`` to ``to`` only if it still is the version looked at (its ETag), then
        delete ``key`` only if it still is that version: a write to ``key`` meanwhile stays."""
        name, target, doing = self._key(key), self._key(to), f"moving {key} to {to}"
        while True:
            try:
                head = self._ask("head_object", doing, _missing, Key=name)
            except ClientError:
                return False
            etag, size = head["ETag"], int(head["ContentLength"])
            source = {"Bucket": self.bucket, "Key": name}
            try:
                if size > _MAX_COPY:
                    self._copy_parts(source, target, etag, size, doing)
                else:
                    self._ask(
                        "copy_object",
                        doing,
                        lambda e: _missing(e) or error_code(e) == "PreconditionFailed",
                        Key=target,
                        CopySource=source,
                        CopySourceIfMatch=etag,
                    )
            except ClientError as exc:
                if error_code(exc) == "PreconditionFailed":
                    continue  # replaced since the HEAD: move what is there now
                return False  # deleted since the HEAD
            break
        with contextlib.suppress(ClientError):  # 412: a newer object took the key: it stays
            self._ask(
                "delete_object", doing, _code_is("PreconditionFailed"), Key=name, IfMatch=etag
            )
        return True

    def _copy_parts(
        self, source: dict[str, str], target: str, etag: str, size: int, doing: str
    ) -> None:
        upload_id = self._ask("create_multipart_upload", doing, Key=target)["UploadId"]
        try:
            parts = []
            for number, (start, end) in enumerate(part_ranges(size, _MAX_COPY // 2), 1):
                answer = self._ask(
                    "upload_part_copy",
                    doing,
                    lambda e: _missing(e) or error_code(e) == "PreconditionFailed",
                    Key=target,
                    UploadId=upload_id,
                    PartNumber=number,
                    CopySource=source,
                    CopySourceIfMatch=etag,
                    CopySourceRange=f"bytes={start}-{end - 1}",
                )
                parts.append({"PartNumber": number, "ETag": answer["CopyPartResult"]["ETag"]})
            self._ask(
                "complete_multipart_upload",
                doing,
                Key=target,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            )
        except BaseException:
            self._abort(target, upload_id)
            raise

    # -- incomplete uploads (StagesWrites) ---------------------------------------------------

    def temporaries(self) -> Iterator[Temporary]:
        """Every incomplete multipart upload under the store's prefix: a large write in
        progress, or one a killed writer left; its time is that of its last part."""
        root = self.location.root
        marker: dict[str, str] = {}
        while True:
            page = self._ask(
                "list_multipart_uploads", "listing incomplete uploads", Prefix=root, **marker
            )
            for upload in page.get("Uploads", ()):
                name = f"{upload['Key'][len(root) :]}{_UPLOAD}{upload['UploadId']}"
                found = self._upload_parts(upload["Key"], upload["UploadId"])
                if found is not None:
                    size, last = found
                    yield Temporary(name, size, max(upload["Initiated"].timestamp(), last))
            if not page.get("IsTruncated"):
                return
            marker = {
                "KeyMarker": page["NextKeyMarker"],
                "UploadIdMarker": page["NextUploadIdMarker"],
            }

    def _upload_parts(self, name: str, upload_id: str) -> tuple[int, float] | None:
        """Bytes uploaded so far and when the last part came; None if the upload has ended."""
        try:
            answer = self._ask(
                "list_parts",
                "listing incomplete uploads",
                _code_is("NoSuchUpload"),
                Key=name,
                UploadId=upload_id,
            )
        except ClientError:
            return None
        parts = answer.get("Parts", ())
        size = sum(int(p["Size"]) for p in parts)
        return size, max((p["LastModified"].timestamp() for p in parts), default=0.0)

    def remove_temporary(self, name: str) -> None:
        key, sep, upload_id = name.partition(_UPLOAD)
        if not sep or not upload_id:
            return  # not a name temporaries() gives: never anything else
        with contextlib.suppress(ClientError):  # ended already
            self._ask(
                "abort_multipart_upload",
                f"aborting the incomplete upload of {key}",
                _code_is("NoSuchUpload"),
                Key=self._key(key),
                UploadId=upload_id,
            )
