"""Memory for large segments read from the store, which the store can later prove unmodified.

A task that loads a large artifact and only reads it must not pay for hashing it again when
it finishes (a SHA-256 and a full read of the stored copy, for a 500 MB array). So on Linux
a large segment is read into a memfd (anonymous shared memory) through a shared mapping,
and the value gets the same pages through a private, copy-on-write mapping. The first
write to any page of that mapping, by any means (``array[0] = 1``, a ``read`` into it,
another thread), gives the page a private anonymous copy, and ``/proc/self/pagemap`` says
so: the page is no longer "file or shared". "Every page is still the memfd's" therefore
proves, without reading a byte, that the memory holds what was verified when it was filled
(nothing else can write the memfd: its descriptor is closed once both mappings exist).

Elsewhere (no memfd, or a pagemap this process may not read) segments are plain
bytearrays, and a finishing task hashes them as before.
"""

from __future__ import annotations

import mmap
import os
from functools import cache

#: Segments at least this large are read into tracked memory: below it a mapping costs
#: more than the hash it saves.
TRACKED_MIN = 1 << 20

#: Top byte of a pagemap entry: bit 63 present, 62 swapped, 61 file page or shared memory.
_STATE = 0xE0
#: A page that is mapped and still the memfd's, or one never touched (it reads as the memfd's).
_PRISTINE = frozenset({0xA0, 0x00})
_ENTRY = 8
#: ``bytes.translate`` table: 0 for a pristine page's top byte, 1 for any other.
_FLAGS = bytes(0 if (b & _STATE) in _PRISTINE else 1 for b in range(256))


class Pages(mmap.mmap):
    """A private, writable mapping of a filled memfd: one segment of a loaded value."""

    address: int


@cache
def _page_size() -> int:
    return mmap.PAGESIZE


@cache
def tracking() -> bool:
    """Whether this process can prove pages unmodified (Linux with a readable pagemap)."""
    if not hasattr(os, "memfd_create"):
        return False
    try:
        with open("/proc/self/pagemap", "rb") as fh:
            return len(fh.read(_ENTRY)) == _ENTRY
    except OSError:
        return False


class Fill:
    """Memory for one segment as it is read: :attr:`view` is written, then :meth:`seal`
    gives the segment (a :class:`Pages` if ``track`` and it is large enough, else a
    bytearray); :meth:`discard` frees it."""

    def __init__(self, size: int, *, track: bool = True) -> None:
        self._fd: int | None = None
        self._shared: mmap.mmap | None = None
        self._plain: bytearray | None = None
        self.size = size
        if track and size >= TRACKED_MIN and tracking():
            try:
                self._fd = os.memfd_create("flowkit-segment", os.MFD_CLOEXEC)
                os.ftruncate(self._fd, size)
                self._shared = mmap.mmap(self._fd, size, flags=mmap.MAP_SHARED)
                self.view = memoryview(self._shared)
                return
            except OSError:  # out of descriptors or mappings: plain memory reads as well
                self.discard()
        self._plain = bytearray(size)
        self.view = memoryview(self._plain)

    def seal(self) -> Pages | bytearray:
        """The filled segment, for the value to use (and write to, if it likes)."""
        self.view.release()
        if self._plain is not None:
            return self._plain
        assert self._shared is not None and self._fd is not None
        try:
            self._shared.close()
            pages = Pages(
                self._fd, self.size, flags=mmap.MAP_PRIVATE, prot=mmap.PROT_READ | mmap.PROT_WRITE
            )
        finally:
            self._close_fd()
        pages.address = address(memoryview(pages))
        return pages

    def discard(self) -> None:
        """Free the memory of a read that failed."""
        if hasattr(self, "view"):
            self.view.release()
        if self._shared is not None:
            self._shared.close()
            self._shared = None
        self._close_fd()

    def _close_fd(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def address(view: memoryview) -> int:
    """Where ``view``'s memory starts; -1 when that cannot be known (a read-only buffer)."""
    import ctypes

    if view.readonly or not view.nbytes:
        return -1
    with view.cast("B") as flat:
        return ctypes.addressof(ctypes.c_char.from_buffer(flat))


def pristine(pages: Pages) -> bool:
    """Whether no page of ``pages`` was written since it was sealed (see the module
    docstring); False when the kernel cannot say."""
    size = _page_size()
    first = pages.address // size
    last = (pages.address + len(pages) - 1) // size
    count = last - first + 1
    try:
        with open("/proc/self/pagemap", "rb") as fh:
            fh.seek(first * _ENTRY)
            entries = fh.read(count * _ENTRY)
    except OSError:
        return False
    if len(entries) != count * _ENTRY:
        return False
    return 1 not in entries[_ENTRY - 1 :: _ENTRY].translate(_FLAGS)
