"""One thread that hands items on in the order they were given: what a run's alerts and its
hooks are sent through, so that the scheduler's loop never waits on a slow receiver."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class InOrder(Generic[T]):
    """Calls ``deliver`` with each item :meth:`put`, in order, on one thread of its own,
    started at the first item; what ``deliver`` returns is dropped, and it must not raise
    (it reports its own failures)."""

    def __init__(self, deliver: Callable[[T], object], name: str) -> None:
        self._deliver = deliver
        self._name = name
        #: What is still to be delivered, in order; None: stop once the rest is delivered.
        self._queue: queue.SimpleQueue[T | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def put(self, item: T) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
            self._thread.start()
        self._queue.put(item)

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            self._deliver(item)

    def close(self) -> None:
        """Wait until every item put so far was delivered; a later :meth:`put` starts again."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
