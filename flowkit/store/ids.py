"""Run and task ids: 26 lowercase characters that sort by creation time and never collide.

An id is a ULID written in lowercase Crockford base32: 48 bits of milliseconds since the
epoch, then 80 random bits. Within one process, ids made in the same millisecond count up
from the first one's random part, so they still sort in creation order; across processes
and machines the 80 random bits make a collision practically impossible.
"""

from __future__ import annotations

import os
import threading
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_RANDOM_BITS = 80


class IdGenerator:
    """Makes ids; safe to share between threads, and it resets itself in a forked child."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid = -1
        self._last_ms = -1
        self._last_random = 0

    def new(self) -> str:
        with self._lock:
            now_ms = time.time_ns() // 1_000_000
            pid = os.getpid()
            if pid != self._pid or now_ms > self._last_ms:
                # A forked child would otherwise continue its parent's sequence.
                self._pid, self._last_ms = pid, now_ms
                self._last_random = int.from_bytes(os.urandom(_RANDOM_BITS // 8), "big")
            else:
                self._last_random = (self._last_random + 1) % (1 << _RANDOM_BITS)
            value = (self._last_ms << _RANDOM_BITS) | self._last_random
        return _encode(value)


def _encode(value: int) -> str:
    chars = []
    for _ in range(26):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def id_time(value: str) -> float | None:
    """When the id ``value`` was made (seconds since the epoch); None if it is not an id."""
    if len(value) != 26 or any(c not in _ALPHABET for c in value):
        return None
    ms = 0
    for char in value[:10]:
        ms = ms * 32 + _ALPHABET.index(char)
    return ms / 1000
