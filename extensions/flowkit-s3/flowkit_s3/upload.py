"""Large writes: a multipart upload whose parts go up in parallel, straight from the
caller's buffers (memoryview slices, never one joined copy of a large artifact).

The object appears only when ``CompleteMultipartUpload`` succeeds; any failure aborts the
upload, and a writer killed half-way leaves an incomplete upload that no read or listing
sees (``S3Backend.temporaries`` lists it, ``fsck --repair`` aborts it once it is old).
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from flowkit.store.backend import Bytes

#: S3's limits: at most 10,000 parts, each but the last at least 5 MiB.
MAX_PARTS = 10_000
MIN_PART = 5 << 20


class PartsBody(io.RawIOBase):
    """A seekable binary file over a list of buffers, read in place: a request body that
    botocore can measure, checksum, send and rewind for a retry without a copy."""

    def __init__(self, views: Sequence[memoryview]) -> None:
        super().__init__()
        self._views = [v for v in views if v.nbytes]
        self._size = sum(v.nbytes for v in self._views)
        self._pos = 0
        self._index = 0  # the view that holds self._pos
        self._offset = 0  # where in that view

    def __len__(self) -> int:
        return self._size

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = min(max(base + offset, 0), self._size)
        self._index, self._offset = 0, self._pos
        while self._index < len(self._views) and self._offset >= self._views[self._index].nbytes:
            self._offset -= self._views[self._index].nbytes
            self._index += 1
        return self._pos

    def readinto(self, buffer: Any) -> int:
        into = memoryview(buffer).cast("B")
        done = 0
        while done < into.nbytes and self._index < len(self._views):
            view = self._views[self._index]
            count = min(into.nbytes - done, view.nbytes - self._offset)
            into[done : done + count] = view[self._offset : self._offset + count]
            done += count
            self._offset += count
            if self._offset == view.nbytes:
                self._index, self._offset = self._index + 1, 0
        self._pos += done
        return done

    def read(self, size: int = -1, /) -> bytes:
        left = self._size - self._pos
        size = left if size < 0 else min(size, left)
        if (
            self._index < len(self._views)
            and self._offset + size <= self._views[self._index].nbytes
        ):
            # the usual case, the sender's small reads: one copy, straight from the buffer
            view = self._views[self._index]
            data = view[self._offset : self._offset + size].tobytes()
            self._pos, self._offset = self._pos + size, self._offset + size
            if self._offset == view.nbytes:
                self._index, self._offset = self._index + 1, 0
            return data
        out = bytearray(size)
        count = self.readinto(out)
        return bytes(out) if count == size else bytes(out[:count])


def as_views(parts: Sequence[Bytes]) -> list[memoryview]:
    """``parts`` as flat byte views (no copy)."""
    return [memoryview(p).cast("B") for p in parts]


def slice_views(views: Sequence[memoryview], start: int, end: int) -> list[memoryview]:
    """The views that hold bytes ``start:end`` of the concatenation of ``views``."""
    out, at = [], 0
    for view in views:
        low, high = max(start - at, 0), min(end - at, view.nbytes)
        if low < high:
            out.append(view[low:high])
        at += view.nbytes
        if at >= end:
            break
    return out


def part_ranges(size: int, part_size: int) -> list[tuple[int, int]]:
    """(start, end) of each part of a ``size``-byte object: ``part_size`` each, larger if
    S3's 10,000-part limit needs it."""
    part = max(part_size, MIN_PART, -(-size // MAX_PARTS))
    return [(start, min(start + part, size)) for start in range(0, size, part)]


def multipart_etag(parts: Sequence[dict[str, Any]]) -> str:
    """The ETag S3 gives the object that completing an upload of ``parts`` (their
    ``{"PartNumber", "ETag"}``, as :func:`upload_parts` returns them) makes: the MD5 of the
    parts' binary MD5s, then "-" and how many parts there are."""
    md5s = b"".join(bytes.fromhex(p["ETag"].strip('"')) for p in parts)
    return f'"{hashlib.md5(md5s, usedforsecurity=False).hexdigest()}-{len(parts)}"'


def upload_parts(
    upload_part: Callable[[int, PartsBody], str],
    views: Sequence[memoryview],
    ranges: Sequence[tuple[int, int]],
    threads: int,
) -> list[dict[str, Any]]:
    """Upload each range as a part, ``threads`` at a time; the part list that completes the
    upload. The first failure cancels the parts not started and is raised once the running
    ones have ended (so an abort after it leaves no part behind)."""
    pool = ThreadPoolExecutor(min(threads, len(ranges)), thread_name_prefix="flowkit-s3-put")
    try:
        futures = [
            pool.submit(upload_part, number, PartsBody(slice_views(views, start, end)))
            for number, (start, end) in enumerate(ranges, 1)
        ]
        return [{"PartNumber": n, "ETag": f.result()} for n, f in enumerate(futures, 1)]
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
