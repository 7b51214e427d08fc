"""A backend wrapper that keeps what is written once (records, log chunks, blobs) in memory,
so a long-lived reader (the web UI) pays each such read once.

Only keys :func:`flowkit.store.layout.write_once` names are kept; a lease or a cache entry is
read afresh each time, and so is a key found missing (an end record appears later). Whether
a key exists is always asked of the backend (gc elsewhere may have deleted it). A blob is
kept only if its bytes hash to its name (a damaged copy healed by a write from another
process must not be served on). Memory is bounded: least recently used objects go first,
and an object larger than ``max_object`` bytes is never kept.
"""

from __future__ import annotations

import io
import threading
import zlib
from collections import OrderedDict
from collections.abc import Iterator, Sequence

from flowkit.store import layout
from flowkit.store.backend import Backend, Bytes, ObjectInfo, Reader
from flowkit.store.blobs import read_segments
from flowkit.store.errors import CorruptBlobError
from flowkit.store.store import Store

#: What the cache holds at most, in bytes of objects.
MAX_BYTES = 256 * 1024 * 1024
#: An object larger than this is read through, never kept.
MAX_OBJECT = 4 * 1024 * 1024


class CachedBackend:
    """``backend`` with its write-once objects kept in memory (thread-safe)."""

    def __init__(
        self, backend: Backend, *, max_bytes: int = MAX_BYTES, max_object: int = MAX_OBJECT
    ) -> None:
        self.backend = backend
        self.url = backend.url
        self.shared = backend.shared
        self.remote = backend.remote
        self.max_bytes = max_bytes
        self.max_object = min(max_object, max_bytes)
        self._kept: OrderedDict[str, bytes] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"CachedBackend({self.backend!r})"

    @property
    def cached_bytes(self) -> int:
        """How many bytes of objects the cache holds now."""
        return self._bytes

    def _lookup(self, key: str) -> bytes | None:
        with self._lock:
            data = self._kept.get(key)
            if data is not None:
                self._kept.move_to_end(key)
            return data

    def _keep(self, key: str, data: bytes) -> None:
        if len(data) > self.max_object or not layout.write_once(key) or _damaged(key, data):
            return
        with self._lock:
            if key in self._kept:
                return
            self._kept[key] = data
            self._bytes += len(data)
            while self._bytes > self.max_bytes:
                _, dropped = self._kept.popitem(last=False)
                self._bytes -= len(dropped)

    def _forget(self, key: str) -> None:
        with self._lock:
            data = self._kept.pop(key, None)
            if data is not None:
                self._bytes -= len(data)

    def get(self, key: str) -> bytes:
        data = self._lookup(key)
        if data is None:
            data = self.backend.get(key)  # a miss raises: it is never kept
            self._keep(key, data)
        return data

    def open(self, key: str) -> Reader:
        data = self._lookup(key)
        if data is not None:
            return io.BytesIO(data)
        size = self.backend.size(key) if layout.write_once(key) else None
        if size is not None and size <= self.max_object:
            return io.BytesIO(self.get(key))
        return self.backend.open(key)

    def exists(self, key: str) -> bool:
        # asked of the backend even when kept: gc in another process may have deleted it
        return self.backend.exists(key)

    def size(self, key: str) -> int | None:
        return self.backend.size(key)

    def list(self, prefix: str) -> list[str]:
        return self.backend.list(prefix)

    def scan(self, prefix: str) -> Iterator[ObjectInfo]:
        return self.backend.scan(prefix)

    def put(self, key: str, parts: Sequence[Bytes]) -> None:
        self._forget(key)  # a healed blob: read the new copy
        self.backend.put(key, parts)

    def put_new(self, key: str, data: Bytes) -> bool:
        return self.backend.put_new(key, data)

    def delete(self, key: str) -> None:
        self._forget(key)
        self.backend.delete(key)

    def move(self, key: str, to: str) -> bool:
        self._forget(key)
        self._forget(to)
        return self.backend.move(key, to)


def _damaged(key: str, data: bytes) -> bool:
    """Whether ``data`` is a blob that does not hash to its name: kept, it would outlive its
    healing by a write from another process."""
    if not key.startswith("blobs/"):
        return False
    digest = key.rsplit("/", 1)[-1]
    try:
        read_segments(io.BytesIO(data), digest, key)
    except (CorruptBlobError, zlib.error):
        return True
    return False


def cached(store: Store) -> Store:
    """A Store over ``store``'s backend with its write-once objects kept in memory."""
    if isinstance(store.backend, CachedBackend):
        return store
    return Store(CachedBackend(store.backend))
