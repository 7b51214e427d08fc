"""The byte-store interface every backend implements: a handful of primitives over keys.

Keys are '/'-separated (see :mod:`flowkit.store.keys`); everything above bytes (blobs,
records, logs) is built once in the core on top of these primitives.
"""

from __future__ import annotations

import mmap
from collections.abc import Iterator, Sequence
from types import TracebackType
from typing import Any, Protocol, runtime_checkable

from flowkit.fastdata import dataclass

#: Bytes a backend accepts without copying them first.
Bytes = bytes | bytearray | memoryview | mmap.mmap


@dataclass(frozen=True)
class ObjectInfo:
    """One object as a listing sees it, without reading it."""

    #: The full key.
    key: str
    size: int
    #: When it was last written (seconds since the epoch).
    modified: float


class Reader(Protocol):
    """What ``Backend.open`` returns: a binary reader that can fill a buffer in place."""

    def read(self, size: int = -1, /) -> bytes: ...

    def readinto(self, buffer: Any, /) -> int | None: ...

    def close(self) -> None: ...

    def __enter__(self) -> Any: ...

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
        /,
    ) -> Any: ...


@runtime_checkable
class Backend(Protocol):
    """A flat namespace of immutable byte objects.

    Contract (checked by :mod:`flowkit.testing`):

    - ``put`` is atomic: a reader sees the whole object or nothing, even if the writer dies.
    - ``put_new`` is atomic and write-once: it returns False, and changes nothing, when the
      key exists, also when several processes race for the same key.
    - ``list`` returns the sorted names directly under a prefix (objects and sub-prefixes
      alike), and ``[]`` for a prefix that holds nothing.
    - ``get`` and ``open`` raise :class:`~flowkit.store.errors.KeyNotFoundError` for a
      missing key; ``size`` returns None for it; ``delete`` of a missing key does nothing.
    - ``put`` over an existing key replaces it atomically: that is how a damaged blob heals.
    """

    #: Where the data lives, for messages (a path or a URL).
    url: str
    #: Whether another process (a task, a worker on another machine) that opens ``url``
    #: sees the same objects; a run needs such a store, as its tasks run in other processes.
    shared: bool
    #: Whether each call is a network round trip (an object store). The core then skips
    #: probes it can do without: a small blob is written with ``put_new`` straight away and
    #: checked only when that says it exists, instead of a ``size`` probe before every write.
    remote: bool

    def put(self, key: str, parts: Sequence[Bytes]) -> None:
        """Store the concatenation of ``parts`` under ``key``, replacing any object there."""
        ...

    def put_new(self, key: str, data: Bytes) -> bool:
        """Store ``data`` under ``key`` unless it exists; True if this call created it."""
        ...

    def get(self, key: str) -> bytes:
        """The whole object under ``key``."""
        ...

    def open(self, key: str) -> Reader:
        """A binary reader (supporting ``readinto``) over the object under ``key``."""
        ...

    def exists(self, key: str) -> bool:
        """Whether an object is stored under ``key``."""
        ...

    def size(self, key: str) -> int | None:
        """The length in bytes of the object under ``key``; None if there is none. One cheap
        metadata call (a ``stat``, a ``HEAD``): it never reads the object."""
        ...

    def list(self, prefix: str) -> list[str]:
        """Sorted names of the objects and sub-prefixes directly under ``prefix``."""
        ...

    def scan(self, prefix: str) -> Iterator[ObjectInfo]:
        """Every object under ``prefix`` at any depth (``""``: the whole store) with its size
        and modification time, in no particular order; temporaries of staged writes never
        appear. One listing call per thousand objects on an object store, not one per object."""
        ...

    def delete(self, key: str) -> None:
        """Remove the object under ``key``, if any."""
        ...

    def move(self, key: str, to: str) -> bool:
        """Move the object under ``key`` to ``to``, a key no other writer uses (anything
        there is replaced); False, changing nothing, when ``key`` holds no object.

        What a backend must guarantee, so that ``fsck --repair`` can take a damaged object
        away without taking a good one a writer puts there meanwhile:

        - ``to`` ends up holding exactly one whole object that ``key`` held (never a mix);
        - a ``put`` or ``put_new`` of ``key`` that races with the move is never lost: it
          lands before the move (and is what moves) or after it (and stays under ``key``).

        A rename does this (``os.rename`` on a local disk). A copy followed by a plain delete
        does not (a put between the two would be deleted): an object store copies, then
        deletes ``key`` only if it still holds the version it copied (a conditional delete
        on its ETag or version id), leaving a newer object in place.
        """
        ...


@dataclass(frozen=True)
class Temporary:
    """A staged write's temporary object: a write in progress, or one a killed writer left."""

    #: Where it is, relative to the backend's root (for messages).
    name: str
    size: int
    #: When it was last written to (seconds since the epoch).
    modified: float


@runtime_checkable
class StagesWrites(Protocol):
    """Optional: a backend whose writes go through temporary objects (the local one) lists
    them, so ``fsck`` can report those a killed writer left and remove the old ones."""

    def temporaries(self) -> Iterator[Temporary]:
        """Every temporary object there is now."""
        ...

    def remove_temporary(self, name: str) -> None:
        """Delete the temporary object ``name`` (nothing happens if it is already gone)."""
        ...
