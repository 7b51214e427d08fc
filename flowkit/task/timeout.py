"""``@timeout`` inside the task's process, for a step under ``@catch``: the step's code is
interrupted by an exception where it stands, as Metaflow's is, so what it set so far is
stored and ``@catch`` passes it on. The scheduler's kill of the whole process group, a little
later, still ends a step that swallows the exception or never returns to Python (see
:func:`hard_kill_after`); a step without ``@catch`` is only killed, at its timeout."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


class TaskTimedOut(Exception):
    """Raised in the step's code when it has run for its ``@timeout``."""


def hard_kill_after(seconds: float) -> float:
    """When the scheduler kills a task whose ``@timeout`` is ``seconds``: after the step's
    own exception had time to store what it set and write the record."""
    return seconds + min(30.0, 2.0 + seconds / 10)


def _left(seconds: float, began: float | None) -> float:
    """What is left of ``seconds`` counted from ``began`` (a ``time.monotonic()`` reading)."""
    if began is None:
        return seconds
    return max(seconds - (time.monotonic() - began), 0.001)


def grace_left(seconds: float | None, began: float) -> float | None:
    """Seconds left, for a step that timed out, before the scheduler's kill (see
    :func:`hard_kill_after`), less a margin to write the record: what rendering its cards may
    take, so they never cost the step what it stored."""
    if not seconds:
        return None
    return max(began + hard_kill_after(seconds) - time.monotonic() - _RECORD_MARGIN, 0.0)


#: Seconds kept, of a timed-out step's grace, to write its final record.
_RECORD_MARGIN = 1.0


@contextmanager
def step_timeout(seconds: float | None, step: str, began: float | None = None) -> Iterator[None]:
    """Raise :class:`TaskTimedOut` in this (the main) thread once ``seconds`` have passed
    since ``began`` (a ``time.monotonic()`` reading: the attempt's start, as the scheduler
    counts it, so loading the step's inputs counts too), or from now without it."""
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum: int, frame: FrameType | None) -> None:
        signal.setitimer(signal.ITIMER_REAL, 0)
        raise TaskTimedOut(
            f"step '{step}' timed out: it ran longer than its @timeout of {seconds:g}s"
        )

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, _left(seconds, began))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
