"""The scheduler's heartbeat: a thread that renews its run's lease in the store.

A thread, not the scheduler loop, beats, so that a long step of the loop (cloning thousands
of tasks on a resume, indexing a big run at its end) never makes a live run look dead, and
so that the loop, which is hot, pays nothing for it. The thread dies with the process, so a
killed terminal, machine or Jupyter kernel stops the beats and its run reads as crashed
(see :mod:`flowkit.store.lease`).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from flowkit.errors import FlowkitError
from flowkit.store.lease import heartbeat_interval

if TYPE_CHECKING:
    from flowkit.store import Store


class Heartbeat:
    """Renews the lease of run ``flow/run_id`` every ``interval`` seconds until stopped."""

    def __init__(self, store: Store, flow: str, run_id: str) -> None:
        self._store, self._flow, self._run_id = store, flow, run_id
        self.interval = heartbeat_interval()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Heartbeat:
        """Write the first beat now (so a store that refuses it fails the run at once),
        then keep beating in the background."""
        self._beat()
        self._thread = threading.Thread(target=self._run, name="flowkit-heartbeat", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop beating; call it after the run's end record is written, so a finished run
        never reads as crashed."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self._beat()
            except (OSError, FlowkitError):
                # The store refused one beat (full, unreachable for a moment): the lease
                # outlives several beats, so the next one may still save it; if none does,
                # the run reads as crashed, which is then the truth as far as readers know.
                continue

    def _beat(self) -> None:
        self._store.leases.renew(self._flow, self._run_id, interval=self.interval)
