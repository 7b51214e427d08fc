"""The in-memory backend: a dict behind a lock, for tests and throwaway runs."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator, Sequence

from flowkit.store.backend import Bytes, ObjectInfo, Reader
from flowkit.store.errors import KeyNotFoundError
from flowkit.store.keys import check_key


class MemoryBackend:
    """Objects in a dict; shares nothing with other instances or processes."""

    shared = False
    remote = False

    def __init__(self, name: str = "memory") -> None:
        self.url = f"memory://{name}"
        self._objects: dict[str, bytes] = {}
        #: key -> when it was last written
        self._modified: dict[str, float] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"MemoryBackend({self.url!r})"

    def put(self, key: str, parts: Sequence[Bytes]) -> None:
        data = b"".join(parts)
        with self._lock:
            self._objects[check_key(key)] = data
            self._modified[key] = time.time()

    def put_new(self, key: str, data: Bytes) -> bool:
        blob = bytes(data)
        with self._lock:
            if check_key(key) in self._objects:
                return False
            self._objects[key] = blob
            self._modified[key] = time.time()
            return True

    def get(self, key: str) -> bytes:
        with self._lock:
            try:
                return self._objects[check_key(key)]
            except KeyError:
                raise KeyNotFoundError(key) from None

    def open(self, key: str) -> Reader:
        return io.BytesIO(self.get(key))

    def exists(self, key: str) -> bool:
        with self._lock:
            return check_key(key) in self._objects

    def size(self, key: str) -> int | None:
        with self._lock:
            data = self._objects.get(check_key(key))
        return None if data is None else len(data)

    def list(self, prefix: str) -> list[str]:
        start = check_key(prefix) + "/" if prefix else ""
        with self._lock:
            keys = [k for k in self._objects if k.startswith(start)]
        return sorted({k[len(start) :].split("/", 1)[0] for k in keys})

    def scan(self, prefix: str) -> Iterator[ObjectInfo]:
        start = check_key(prefix) + "/" if prefix else ""
        with self._lock:
            found = [
                ObjectInfo(k, len(v), self._modified[k])
                for k, v in self._objects.items()
                if k.startswith(start)
            ]
        yield from found

    def delete(self, key: str) -> None:
        with self._lock:
            self._objects.pop(check_key(key), None)
            self._modified.pop(key, None)

    def move(self, key: str, to: str) -> bool:
        check_key(to)
        with self._lock:
            data = self._objects.pop(check_key(key), None)
            if data is None:
                return False
            self._objects[to] = data
            self._modified[to] = self._modified.pop(key)
            return True
