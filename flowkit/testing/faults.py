"""A backend that wraps any other and lands a failure in the middle of a write, for fault tests.

Open the store as ``faulty://<store>`` (``faulty:///tmp/s``, ``faulty://memory://x``): the
scheme is registered in the ``flowkit.stores`` entry-point group, so the scheduler, the warm
worker and every task open the same wrapper from the run's store URL. What fails is set by
``FLOWKIT_TEST_STORE_FAULT=ACTION:KEY_PART[:MARKER]``, read on each write: the next write of
a key containing ``KEY_PART`` stops after its first part reached the backend, and then:

- ``kill``: SIGKILL the writing process (a task, the warm worker or the scheduler);
- ``kill-parent``: SIGKILL the writer's parent (a task's warm worker), then the writer;
- ``enospc``: fail as a full disk does.

With ``MARKER`` (a file path), the fault fires once: only for the process that creates the
marker. A write-once ``put_new`` is a single part, so its fault fires before it reaches the
backend (a reader cannot tell the difference: the object never appears), and ``enospc``
there raises the :class:`~flowkit.store.errors.StoreFullError` a full backend raises.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
from collections.abc import Callable, Iterator, Sequence
from typing import Any, overload

from flowkit.executor.reaper import parent_of
from flowkit.executor.zygote import NAME as ZYGOTE_NAME
from flowkit.store import Backend, Bytes, backend_for
from flowkit.store.backend import ObjectInfo, Reader
from flowkit.store.errors import StoreFullError

ENV = "FLOWKIT_TEST_STORE_FAULT"
ACTIONS = ("kill", "kill-parent", "enospc")
SCHEME = "faulty://"


def open_faulty(url: str) -> FaultyBackend:
    """The ``flowkit.stores`` factory: ``faulty://<store>`` wraps the backend of ``<store>``."""
    return FaultyBackend(backend_for(url.removeprefix(SCHEME)))


def faulty_url(store: str | os.PathLike[str]) -> str:
    """The URL that opens ``store`` (a path or a URL) through a :class:`FaultyBackend`."""
    return SCHEME + os.fspath(store)


class FaultyBackend:
    """``inner``, except that a write the fault setting names fails half-way."""

    def __init__(self, inner: Backend) -> None:
        self.inner = inner
        self.url = SCHEME + inner.url
        self.shared = inner.shared
        self.remote = inner.remote

    def __repr__(self) -> str:
        return f"FaultyBackend({self.inner!r})"

    def put(self, key: str, parts: Sequence[Bytes]) -> None:
        fault = _fault_for(key)
        self.inner.put(key, parts if fault is None else _FaultAfterFirst(parts, fault))

    def put_new(self, key: str, data: Bytes) -> bool:
        fault = _fault_for(key)
        if fault is not None:
            try:
                fault()
            except OSError as exc:
                raise StoreFullError(self.inner.url, key, exc) from None
        return self.inner.put_new(key, data)

    def get(self, key: str) -> bytes:
        return self.inner.get(key)

    def open(self, key: str) -> Reader:
        return self.inner.open(key)

    def exists(self, key: str) -> bool:
        return self.inner.exists(key)

    def size(self, key: str) -> int | None:
        return self.inner.size(key)

    def list(self, prefix: str) -> list[str]:
        return self.inner.list(prefix)

    def scan(self, prefix: str) -> Iterator[ObjectInfo]:
        return self.inner.scan(prefix)

    def delete(self, key: str) -> None:
        self.inner.delete(key)

    def move(self, key: str, to: str) -> bool:
        return self.inner.move(key, to)

    def __getattr__(self, name: str) -> Any:
        """What ``inner`` offers beyond the contract (temporaries that fsck lists) passes
        through, so fsck sees the wrapped store as it is."""
        if name == "inner":  # not set yet (a copy being built): no recursion
            raise AttributeError(name)
        return getattr(self.inner, name)


class _FaultAfterFirst(Sequence[Bytes]):
    """``parts`` that fire ``fault`` once the first part is taken and the writer asks for the
    next one (or, for a single part, once it is taken whole): a write stopped half-way."""

    def __init__(self, parts: Sequence[Bytes], fault: Callable[[], None]) -> None:
        self._parts = parts
        self._fault = fault

    def __len__(self) -> int:
        return len(self._parts)

    @overload
    def __getitem__(self, index: int) -> Bytes: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Bytes]: ...
    def __getitem__(self, index: int | slice) -> Bytes | Sequence[Bytes]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index % len(self) >= 1:
            self._fault()
        return self._parts[index]

    def __iter__(self) -> Iterator[Bytes]:
        for index, part in enumerate(self._parts):
            if index >= 1:
                self._fault()
            yield part
        if len(self._parts) == 1:
            self._fault()


def _fault_for(key: str) -> Callable[[], None] | None:
    """The fault the setting names for a write of ``key``, if any (it fires at most once)."""
    setting = os.environ.get(ENV)
    if not setting:
        return None
    action, _, rest = setting.partition(":")
    part, _, marker = rest.partition(":")
    if action not in ACTIONS or part not in key:
        return None
    fired = False

    def fire() -> None:
        nonlocal fired
        if fired:
            return
        fired = True
        if marker:
            try:
                os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
            except FileExistsError:
                return
        if action == "enospc":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), key)
        if action == "kill-parent":
            os.kill(_warm_worker(), signal.SIGKILL)
        os.kill(os.getpid(), signal.SIGKILL)

    return fire


def _warm_worker() -> int:
    """The writer's parent; for a task, the warm worker above the shepherd that leads the
    task's session and, where the worker has one, its zygote."""
    parent = os.getppid()
    if os.getsid(0) == parent:
        parent = parent_of(parent) or parent
        with contextlib.suppress(OSError), open(f"/proc/{parent}/comm") as fh:
            if fh.read().strip() == ZYGOTE_NAME:
                parent = parent_of(parent) or parent
    return parent
