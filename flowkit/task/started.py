"""A task's start record, written only if the task is still running a moment after it began.

Most tasks of a wide fan-out end within milliseconds: their final record says all the start
record would (when and where the attempt ran, its position and parents), so writing both
costs a store write each (a fsync'd file locally, a PUT on S3) for nothing anyone reads. A
task that runs longer gets its start record after :data:`START_RECORD_DELAY`, so it shows as
running in ``flowkit show``, the client and ``logs --follow``. One that dies before either
record is written gets both from the scheduler (:func:`flowkit.task.outcome.final_record`).
"""

from __future__ import annotations

import _thread
import sys
from typing import TYPE_CHECKING

from flowkit.errors import FlowkitError

if TYPE_CHECKING:
    from flowkit.store import Store, TaskRecord

#: Seconds a task runs before its start record is written.
START_RECORD_DELAY = 0.5


class StartRecord:
    """Writes ``record`` as its attempt's start record after ``delay`` seconds, unless
    :meth:`settle` (called before the final record is written) comes first."""

    def __init__(self, store: Store, record: TaskRecord, delay: float = START_RECORD_DELAY) -> None:
        self._store, self._record = store, record
        self._lock = _thread.allocate_lock()
        self._settled = False
        # Held until settle: the waiting thread's timed acquire of it is its sleep, which
        # settle cuts short. A bare thread, not a threading.Timer: Thread.start waits until
        # the new thread runs (a switch to it and back, with the Timer's Event and Condition
        # made first), about a tenth of a tiny task's own CPU.
        self._pending = _thread.allocate_lock()
        self._pending.acquire()
        _thread.start_new_thread(self._wait, (delay,))

    def _wait(self, delay: float) -> None:
        if not self._pending.acquire(timeout=delay):
            self._write()

    def _write(self) -> None:
        with self._lock:
            if self._settled:
                return
            self._settled = True
            try:
                self._store.records.write_start(self._record)
            except (FlowkitError, OSError) as exc:  # the final record still says it all
                sys.stderr.write(f"flowkit: could not write the task's start record: {exc}\n")

    def settle(self) -> None:
        """No start record from now on; one being written is finished first."""
        with self._lock:
            self._settled = True
            if self._pending.locked():  # wake the waiting thread (a second settle: it woke)
                self._pending.release()
