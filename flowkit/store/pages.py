"""Memory for large segments read from the store.

Where the kernel gives anonymous memory transparent huge pages when asked (THP ``always``
or ``madvise``, the default of most distributions), a large segment is read into an
anonymous mapping that asks for them: the kernel then zeroes and maps 2 MB at a time, and
filling 500 MB takes about 0.1 s, where 4 KB pages take about 0.5 s here. A value read
into it is plain memory: a finishing task that still holds it serializes and hashes it
again (BLAKE3: about 0.1 s for 500 MB), and the store does not read its stored copy
again (:class:`~flowkit.store.values.Values` verified it when it read it).

Elsewhere, a large segment is read into memory the store can later prove unmodified, so a
task that loads a large artifact and only reads it does not hash it again when it
finishes. It is read into a memfd (anonymous shared memory, which rarely has huge pages)
through a shared mapping, and the value gets the same pages through a private,
copy-on-write mapping. The first write to any page of that mapping, by any means
(``array[0] = 1``, a ``read`` into it, another thread), gives the page a private anonymous
copy, and ``/proc/self/pagemap`` says so: the page is no longer "file or shared". "Every
page is still the memfd's" therefore proves, without reading a byte, that the memory holds
what was verified when it was filled (nothing else can write the memfd: its descriptor is
closed once both mappings exist).

The cost is memory when the value *is* changed in place: the memfd keeps every page while
the private mapping exists, and each page written gets an anonymous copy besides, so a
loaded array changed throughout takes twice its size, where plain memory takes it once.
To bound that, a segment is tracked only while it is at most a quarter of the memory this
process can still take when it is read (:func:`room`: ``MemAvailable``, or less where a
cgroup v2 limit leaves less); a larger one is plain memory, hashed again as before.

Without memfd, or with a pagemap this process may not read or that does not show a write
(:func:`tracking` tries one), segments are plain memory, and a finishing task hashes them
as before.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import sys
from functools import cache

#: Segments at least this large are read into tracked memory: below it a mapping costs
#: more than the hash it saves.
TRACKED_MIN = 1 << 20

#: Top byte of a pagemap entry: bit 63 present, 62 swapped, 61 file page or shared memory.
_STATE = 0xE0
#: A page that is mapped and still the memfd's, or one never touched (it reads as the memfd's).
_PRISTINE = frozenset({0xA0, 0x00})
_ENTRY = 8
#: A segment is tracked only if at most this fraction of :func:`room` (see the module
#: docstring): changing it in place then costs at most a quarter of the memory left again.
_ROOM_SHARE = 4
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
    """Whether this process can prove pages unmodified: Linux with memfd and a pagemap
    that shows a page of a private mapping pristine, then written once it is (a kernel
    whose entries read as zeros would pass every changed page as pristine)."""
    if not hasattr(os, "memfd_create"):
        return False
    try:
        fd = os.memfd_create("flowkit-probe", os.MFD_CLOEXEC)
        try:
            os.ftruncate(fd, _page_size())
            pages = _private(fd, _page_size())
        finally:
            os.close(fd)
    except OSError:
        return False
    try:
        before = pages[0] == 0 and pristine(pages)  # read: mapped, still the memfd's
        pages[0] = 1
        return before and not pristine(pages)
    finally:
        pages.close()


def _private(fd: int, size: int) -> Pages:
    """A private, writable mapping of memfd ``fd``'s first ``size`` bytes."""
    pages = Pages(fd, size, flags=mmap.MAP_PRIVATE, prot=mmap.PROT_READ | mmap.PROT_WRITE)
    pages.address = address(memoryview(pages))
    return pages


def _read(path: str) -> str | None:
    """The text of a small file of the kernel's; None if it cannot be read."""
    try:
        with open(path, encoding="ascii") as fh:
            return fh.read()
    except (OSError, ValueError):
        return None


def room() -> int:
    """Bytes of memory this process can still take: ``MemAvailable``, or what its cgroup
    v2 memory limit leaves (``memory.max`` less ``memory.current``) where that is less;
    0 when the kernel does not say."""
    available = 0
    for line in (_read("/proc/meminfo") or "").splitlines():
        name, _, value = line.partition(":")
        kib = _number(value.strip().removesuffix("kB")) if name == "MemAvailable" else None
        if kib is not None:
            available = kib * 1024
    groups = (_read("/proc/self/cgroup") or "").splitlines()
    path = next((line[3:] for line in groups if line.startswith("0::")), None)
    if path is None:  # no cgroup v2 hierarchy
        return available
    folder = "/sys/fs/cgroup" + path.rstrip("/")
    limit = _number(_read(f"{folder}/memory.max"))
    used = _number(_read(f"{folder}/memory.current"))
    if limit is None or used is None:  # no limit: "max", or the root group (it has none)
        return available
    return min(available, max(0, limit - used))


def _number(text: str | None) -> int | None:
    return int(text) if text is not None and text.strip().isdigit() else None


@cache
def huge_pages() -> bool:
    """Whether anonymous memory that asks for transparent huge pages gets them (THP
    ``always`` or ``madvise``): then a large segment is read into such memory rather
    than tracked (see the module docstring)."""
    text = _read("/sys/kernel/mm/transparent_hugepage/enabled") or ""
    return hasattr(mmap, "MADV_HUGEPAGE") and ("[always]" in text or "[madvise]" in text)


def _anonymous(size: int) -> mmap.mmap | bytearray:
    """Plain memory for a large segment: a mapping the kernel fills with zero pages as it
    is written (huge ones where :func:`huge_pages`), not a bytearray zeroed byte by byte
    first; a bytearray where no mapping is to be had."""
    try:
        memory = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    except OSError:
        return bytearray(size)
    if huge_pages():
        memory.madvise(mmap.MADV_HUGEPAGE)
    return memory


class Fill:
    """Memory for one segment as it is read: :attr:`view` is written, then :meth:`seal`
    gives the segment (a :class:`Pages` if ``track``, it is large enough, there are no
    :func:`huge_pages`, and it is at most a quarter of :func:`room`; else plain memory);
    :meth:`discard` frees it."""

    def __init__(self, size: int, *, track: bool = True) -> None:
        self._fd: int | None = None
        self._shared: mmap.mmap | None = None
        self._plain: mmap.mmap | bytearray | None = None
        self.size = size
        if size < TRACKED_MIN:
            self._plain = bytearray(size)
        elif track and not huge_pages() and tracking() and size <= room() // _ROOM_SHARE:
            try:
                self._fd = os.memfd_create("flowkit-segment", os.MFD_CLOEXEC)
                os.ftruncate(self._fd, size)
                self._shared = mmap.mmap(self._fd, size, flags=mmap.MAP_SHARED)
                self.view = memoryview(self._shared)
                return
            except OSError:  # out of descriptors or mappings: plain memory reads as well
                self.discard()
        if self._plain is None:
            self._plain = _anonymous(size)
        self.view = memoryview(self._plain)

    def seal(self) -> Pages | mmap.mmap | bytearray:
        """The filled segment, for the value to use (and write to, if it likes)."""
        self.view.release()
        if self._plain is not None:
            return self._plain
        assert self._shared is not None and self._fd is not None
        try:
            return _private(self._fd, self.size)
        except OSError:  # no address space or commit charge left for it: keep what was read
            return bytearray(self._shared)
        finally:
            self.discard()

    def discard(self) -> None:
        """Free the memory of a read that failed (or, if something still holds a view of it,
        leave that to the collector: the read's own error is the news, not this)."""
        if hasattr(self, "view"):
            self.view.release()
        for memory in (self._shared, self._plain):
            if isinstance(memory, mmap.mmap):
                with contextlib.suppress(BufferError):
                    memory.close()
        self._shared = self._plain = None
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
    return len(entries) == count * _ENTRY and _pristine_entries(entries)


def _pristine_entries(entries: bytes) -> bool:
    """Whether every pagemap entry (a u64 in this machine's byte order) in ``entries`` is a
    pristine page's: its flags are the top byte, the last of each entry on a little-endian
    machine, the first on a big-endian one."""
    top = _ENTRY - 1 if sys.byteorder == "little" else 0
    return 1 not in entries[top::_ENTRY].translate(_FLAGS)
