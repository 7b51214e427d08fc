"""``@timeout`` inside the task's process, for a step under ``@catch``: the step's code is
interrupted by an exception where it stands, as Metaflow's is, so what it set so far is
stored and ``@catch`` passes it on. The scheduler's kill of the whole process group, a little
later, still ends a step that swallows the exception or never returns to Python (see
:func:`hard_kill_after`); a step without ``@catch`` is only killed, at its timeout."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


class TaskTimedOut(Exception):
    """Raised in the step's code when it has run for its ``@timeout``."""


def hard_kill_after(seconds: float) -> float:
    """When the scheduler kills a task whose ``@timeout`` is ``seconds``: after the step's
    own exception had time to store what it set and write the record."""
    return seconds + min(30.0, 2.0 + seconds / 10)


@contextmanager
def step_timeout(seconds: float | None, step: str) -> Iterator[None]:
    """Raise :class:`TaskTimedOut` in this (the main) thread once ``seconds`` have passed."""
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum: int, frame: FrameType | None) -> None:
        signal.setitimer(signal.ITIMER_REAL, 0)
        raise TaskTimedOut(
            f"step '{step}' timed out: it ran longer than its @timeout of {seconds:g}s"
        )

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
