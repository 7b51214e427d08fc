"""The local file-system backend: one file per key under a root directory.

An object becomes visible only when complete: it is written to a dot-named temporary file in
the same directory, flushed to disk, then renamed into place (``put``) or hard-linked into
place (``put_new``, which fails atomically if the key exists). A writer killed at any moment
leaves at most a ``.tmp-*`` file that no read or listing ever sees; ``fsck`` reports it and
``fsck --repair`` removes it once it is old enough that no live writer can own it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from flowkit.store.backend import Bytes, ObjectInfo, Reader, Temporary
from flowkit.store.errors import InvalidKeyError, KeyNotFoundError, StoreFullError
from flowkit.store.keys import check_key

if TYPE_CHECKING:
    from pathlib import Path

#: Largest single ``os.write``; large buffers go out in slices, never copied whole.
_WRITE_SLICE = 64 << 20


#: Reads never follow a link planted where an object should be.
_READ_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)

#: How a staged write's temporary file is named (dot-named: no listing shows it).
_TEMP_PREFIX = ".tmp-"

#: How many times a writer makes its folder again when a delete that emptied it removes it.
_FOLDER_TRIES = 10
_MAKE_TRIES = 50

#: What a full disk or an exhausted quota says.
_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})


def _write_all(fd: int, parts: Sequence[Bytes]) -> None:
    """Write every part to ``fd``, slice by slice (``os.write`` may write less than asked)."""
    for part in parts:
        view = memoryview(part).cast("B")
        while view:
            written = os.write(fd, view[:_WRITE_SLICE])
            view = view[written:]


def _make_folders(folder: str) -> None:
    """``os.makedirs``, again if a delete removes a parent it just made (as emptied); after
    a few such losses, after a short random wait, so writers racing deleters settle."""
    for attempt in range(_MAKE_TRIES):
        try:
            os.makedirs(folder, exist_ok=True)
            return
        except (FileNotFoundError, FileExistsError):  # FileExistsError: made, then removed
            if attempt == _MAKE_TRIES - 1:
                raise
            if attempt >= 3:
                import random  # here: rarely needed, and every process opens a store

                time.sleep(random.uniform(0, 0.0005 * attempt))


def _scan_folder(folder: str, base: str) -> Iterator[ObjectInfo]:
    """The regular files under ``folder`` (dot-named ones and links aside), keyed ``base`` +
    their path below it."""
    try:
        entries = list(os.scandir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                yield from _scan_folder(entry.path, f"{base}{entry.name}/")
            elif entry.is_file(follow_symlinks=False):
                info = entry.stat(follow_symlinks=False)
                yield ObjectInfo(base + entry.name, info.st_size, info.st_mtime)
        except FileNotFoundError:  # removed since the folder was read
            continue


class LocalBackend:
    """Objects as files under ``root``; ``durable`` fsyncs each object before it appears."""

    shared = True
    remote = False

    def __init__(
        self, root: str | os.PathLike[str], *, durable: bool = True, private: bool = False
    ) -> None:
        self.root = os.path.abspath(os.fspath(root))
        self.url = self.root
        self.durable = durable
        #: Create the root (when it does not exist yet) readable by its user only.
        self.private = private

    def __repr__(self) -> str:
        return f"LocalBackend({self.root!r})"

    def _path(self, key: str) -> str:
        return os.path.join(self.root, check_key(key))

    def _write_temp(self, path: str, parts: Sequence[Bytes]) -> str:
        try:
            return self._write_file(path, parts)
        except OSError as exc:
            raise self._full(path, exc) from None

    def _full(self, path: str, exc: OSError) -> Exception:
        """``exc``, or a :class:`StoreFullError` naming ``path`` when the disk is full."""
        if exc.errno in _FULL:
            return StoreFullError(self.root, os.path.relpath(path, self.root), exc)
        return exc

    def _create(self, path: str) -> int:
        """A descriptor of the new, empty file ``path`` (``FileExistsError`` if there is one
        already), its folder made first where there is none."""
        folder = os.path.dirname(path)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
        for tries_left in range(_FOLDER_TRIES - 1, -1, -1):
            try:
                return os.open(path, flags, 0o644)
            except FileNotFoundError:
                # no folder yet, or a delete that emptied it removed it just now
                if not tries_left:
                    raise
                self._make_folder(folder)
        raise AssertionError("unreachable")

    def _write_file(self, path: str, parts: Sequence[Bytes]) -> str:
        folder = os.path.dirname(path)
        temp = os.path.join(folder, f"{_TEMP_PREFIX}{os.getpid()}-{os.urandom(6).hex()}")
        fd = self._create(temp)
        try:
            _write_all(fd, parts)
            if self.durable:
                os.fsync(fd)
        except BaseException:
            os.close(fd)
            os.unlink(temp)
            raise
        os.close(fd)
        return temp

    def _make_folder(self, folder: str) -> None:
        if self.private and not os.path.isdir(self.root):
            os.makedirs(os.path.dirname(self.root), exist_ok=True)
            with contextlib.suppress(FileExistsError):
                os.mkdir(self.root, 0o700)
        _make_folders(folder)

    def put(self, key: str, parts: Sequence[Bytes]) -> None:
        path = self._path(key)
        temp = self._write_temp(path, parts)
        try:
            os.replace(temp, path)
        except BaseException:
            os.unlink(temp)
            raise

    def put_new(self, key: str, data: Bytes) -> bool:
        path = self._path(key)
        if os.path.exists(path):
            return False
        if not len(data):
            # A mark (a log's end, say): with no bytes to tear, creating the file is the
            # whole write, and a crash leaves it there or not, as a link of a temporary
            # file would; no temporary file, and no fsync of nothing.
            try:
                os.close(self._create(path))
            except FileExistsError:
                return False
            except OSError as exc:
                raise self._full(path, exc) from None
            return True
        temp = self._write_temp(path, [data])
        try:
            os.link(temp, path)
        except FileExistsError:
            return False
        finally:
            os.unlink(temp)
        return True

    def get(self, key: str) -> bytes:
        with self.open(key) as fh:
            data: bytes = fh.read()
        return data

    def open(self, key: str) -> Reader:
        path = self._path(key)
        try:
            fd = os.open(path, _READ_FLAGS)
        except (FileNotFoundError, NotADirectoryError):
            raise KeyNotFoundError(key) from None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise InvalidKeyError(
                    f"{path} is a symbolic link; flowkit does not follow links inside its store",
                    "links could expose files outside the store: remove it, or replace it "
                    "with the file it points to",
                ) from None
            raise
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise KeyNotFoundError(key)
        return open(fd, "rb", buffering=0)

    def exists(self, key: str) -> bool:
        return os.path.isfile(self._path(key))

    def size(self, key: str) -> int | None:
        try:
            info = os.stat(self._path(key), follow_symlinks=False)
        except (FileNotFoundError, NotADirectoryError):
            return None
        return info.st_size if stat.S_ISREG(info.st_mode) else None

    def list(self, prefix: str) -> list[str]:
        folder = self._path(prefix) if prefix else self.root
        try:
            names = os.listdir(folder)
        except (FileNotFoundError, NotADirectoryError):
            return []
        return sorted(n for n in names if not n.startswith("."))

    def scan(self, prefix: str) -> Iterator[ObjectInfo]:
        """A scandir walk: one ``stat`` per object, from the directory entries it reads."""
        start = self._path(prefix) if prefix else self.root
        base = f"{check_key(prefix)}/" if prefix else ""
        yield from _scan_folder(start, base)

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            os.unlink(path)
        except FileNotFoundError:
            return
        self._prune(os.path.dirname(path))

    def _prune(self, folder: str) -> None:
        """Remove ``folder`` and its parents while they are empty, up to the root: a prefix
        with no object left is not listed (as on an object store). A writer that finds its
        folder gone makes it again (see :meth:`_write_file`)."""
        while folder != self.root and folder.startswith(self.root + os.sep):
            try:
                os.rmdir(folder)
            except OSError:  # not empty (or already gone): nothing above is empty either
                return
            folder = os.path.dirname(folder)

    def move(self, key: str, to: str) -> bool:
        """A rename: atomic, and a writer's rename into ``key`` lands before or after it."""
        path, target = self._path(key), self._path(to)
        try:
            if not stat.S_ISREG(os.stat(path, follow_symlinks=False).st_mode):
                return False  # a prefix (a folder) or a link is not an object
        except (FileNotFoundError, NotADirectoryError):
            return False
        for tries_left in range(_FOLDER_TRIES - 1, -1, -1):
            _make_folders(os.path.dirname(target))
            try:
                os.rename(path, target)
                break
            except FileNotFoundError:
                if not os.path.lexists(path):
                    return False  # deleted since
                if not tries_left:  # the target's folder, emptied and removed meanwhile
                    raise
        self._prune(os.path.dirname(path))
        return True

    def temporaries(self) -> Iterator[Temporary]:
        """Every ``.tmp-*`` file under the root: writes in progress, or left by killed writers."""
        for folder, dirs, files in os.walk(self.root):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            for name in files:
                if name.startswith(_TEMP_PREFIX):
                    path = os.path.join(folder, name)
                    with contextlib.suppress(FileNotFoundError):  # its writer just finished
                        info = os.stat(path, follow_symlinks=False)
                        yield Temporary(
                            os.path.relpath(path, self.root), info.st_size, info.st_mtime
                        )

    def remove_temporary(self, name: str) -> None:
        path = os.path.abspath(os.path.join(self.root, name))
        inside = os.path.commonpath([self.root, path]) == self.root
        if inside and os.path.basename(path).startswith(_TEMP_PREFIX):  # never anything else
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)

    def path_of(self, key: str) -> Path:
        """The file that holds ``key`` (for messages and tests; not part of the contract)."""
        from pathlib import Path  # here: pathlib costs every process that opens a store ~5 ms

        return Path(self._path(key))
