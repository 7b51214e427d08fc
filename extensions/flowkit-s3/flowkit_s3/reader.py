"""Reading an object: the first bytes stream from one GetObject; for a large object the rest
comes as byte ranges fetched in parallel ahead of the reader, a bounded number at a time."""

from __future__ import annotations

import io
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

#: A read at least this large means the reader is after the data, not a header: only then
#: do ranges start to be fetched ahead (``damage`` reads a blob's header and stops).
_BULK_READ = 256 << 10


class ObjectReader(io.RawIOBase):
    """A binary reader over one version of an object of ``size`` bytes.

    ``stream`` holds its first ``first`` bytes (a ranged GetObject's body); ``fetch(start,
    end)`` returns bytes ``start:end`` of the same version (a GetObject with Range and
    IfMatch). Past ``first``, ranges of ``chunk`` bytes are fetched by ``threads`` threads,
    at most ``ahead`` chunks beyond the one being read: memory stays bounded whatever the
    object's size.
    """

    def __init__(
        self,
        stream: Any,
        size: int,
        first: int,
        fetch: Callable[[int, int], bytes],
        *,
        chunk: int,
        threads: int,
        ahead: int,
        on_error: Callable[[BaseException], BaseException],
    ) -> None:
        super().__init__()
        self._stream, self._size, self._first = stream, size, first
        self._fetch, self._chunk, self._threads, self._ahead = fetch, chunk, threads, ahead
        self._on_error = on_error
        self._pos = 0
        self._pool: ThreadPoolExecutor | None = None
        self._pending: dict[int, Future[bytes]] = {}
        self._current: tuple[int, bytes] | None = None  # (start, data) of the chunk in use

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        into = memoryview(buffer).cast("B")
        if not into.nbytes or self._pos >= self._size:
            return 0
        try:
            count = self._from_stream(into) if self._pos < self._first else self._from_chunks(into)
        except Exception as exc:  # botocore's or urllib3's: worded once, by the backend
            raise self._on_error(exc) from None
        self._pos += count
        return count

    def read(self, size: int = -1, /) -> bytes:
        left = self._size - self._pos
        out = bytearray(left if size < 0 else min(size, left))
        view, done = memoryview(out), 0
        while done < len(out):
            count = self.readinto(view[done:])
            if not count:
                break
            done += count
        return bytes(out[:done])

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        self._pending.clear()
        self._current = None
        self._stream.close()
        super().close()

    def _from_stream(self, into: memoryview) -> int:
        if into.nbytes >= _BULK_READ:
            self._start_ahead()
        count = self._stream.readinto(into[: self._first - self._pos])
        if not count:
            raise EOFError(f"the object ended after {self._pos} of {self._size} bytes")
        if self._pos + count == self._first:
            self._stream.close()
        return int(count)

    def _from_chunks(self, into: memoryview) -> int:
        start, data = self._chunk_at(self._pos)
        offset = self._pos - start
        count = min(into.nbytes, len(data) - offset)
        into[:count] = memoryview(data)[offset : offset + count]
        return count

    def _chunk_at(self, pos: int) -> tuple[int, bytes]:
        if self._current is not None and self._current[0] <= pos < self._current[0] + len(
            self._current[1]
        ):
            return self._current
        self._start_ahead()
        start = self._first + (pos - self._first) // self._chunk * self._chunk
        self._schedule(start)
        data = self._pending.pop(start).result()
        if len(data) != min(self._chunk, self._size - start):
            raise EOFError(f"a range of the object at {start} came back {len(data)} bytes long")
        self._current = (start, data)
        return self._current

    def _start_ahead(self) -> None:
        if self._pool is None and self._first < self._size:
            self._pool = ThreadPoolExecutor(self._threads, thread_name_prefix="flowkit-s3-get")
            self._schedule(self._first)

    def _schedule(self, start: int) -> None:
        """Have the chunk at ``start`` and up to ``ahead`` after it fetched or fetching."""
        assert self._pool is not None
        last = min(start + self._ahead * self._chunk, self._size)
        for at in range(start, last, self._chunk):
            if at not in self._pending and (self._current is None or at > self._current[0]):
                end = min(at + self._chunk, self._size)
                self._pending[at] = self._pool.submit(self._fetch, at, end)
