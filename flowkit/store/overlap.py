"""Many independent store reads at once, so a remote store's round trips overlap instead of
adding up one after another; a local store, or a handful of reads, stays serial."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from flowkit.store.backend import Backend

T = TypeVar("T")
R = TypeVar("R")

#: Up to this many calls run one after another; more, on this many threads at once.
_SERIAL, _THREADS = 8, 16


def overlapped(backend: Backend, call: Callable[[T], R], items: Iterable[T]) -> list[R]:
    """``[call(item) for item in items]``, in order, overlapped where that pays: on a remote
    backend with more than a few items. The first exception any call raises is raised."""
    items = list(items)
    if not backend.remote or len(items) <= _SERIAL:
        return [call(item) for item in items]
    # here: concurrent.futures imports logging (~10 ms), which a local store never needs
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(_THREADS, thread_name_prefix="flowkit-store") as pool:
        return list(pool.map(call, items))
