"""A parked spare: a warm worker that waits, detached, for the next command-line run here.

Run as ``python -m flowkit.executor.parked NAME`` by a command line as it exits
(:func:`flowkit.executor.warm.prefork`), in the environment and working directory it had, so
that it inherits what a worker that command line spawned would have. It imports what tasks
need, as a fresh worker does before its hello, then listens on ``NAME.sock`` in the
rendezvous folder (:mod:`flowkit.executor.rendezvous`, which says what keeps this safe) until
a command line takes it over: then its stdin, stdout and stderr become the ones that command
line sends, and it goes on as :func:`flowkit.executor.forkserver.main` (its hello next).
It exits, and removes its socket, after the ``worker_linger`` idle time, and at once when its
socket file is removed or replaced (a newer spare evicts it) or a module it imported changed
on disk. Nothing it does reaches a terminal: a failure here only means the next run spawns.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import stat
import sys
import time
from collections.abc import Iterator

from flowkit.errors import FlowkitError
from flowkit.executor import forkserver, handoff
from flowkit.executor.rendezvous import MAX_PARKED, TAKE, address, changed, context, folder
from flowkit.settings import Settings, find_pyproject

#: Seconds between checks that its socket file is still its own (a newer spare pokes it).
_CHECK_EVERY = 5.0
#: Seconds a connection has to send what it came for.
_REQUEST_TIMEOUT = 1.0
#: Seconds after which a socket being set up (``.tmp``) by a process that died is removed.
_TMP_STALE = 60.0


def main(argv: list[str]) -> None:
    name = argv[0] if argv else ""
    if not name.isalnum():
        return
    try:
        linger = Settings.resolve().worker_linger
    except (FlowkitError, RuntimeError):  # a bad setting, no home: the run says so
        return
    where = folder(create=True)
    if not linger or where is None:
        return
    # While it waits: what a fresh worker imports before its hello.
    with contextlib.suppress(Exception):
        forkserver._preload_task_modules()
    files = forkserver.loaded_files()
    project = find_pyproject(os.getcwd())  # the settings it resolved, and their file's state
    # A folder on the path changes as an install adds or removes files there (a new package,
    # an editable install's finder): modules this spare never imported may be newer there.
    # Not the first entry, the working folder, which a run changes as it writes its outputs
    # (a module added there, as in any folder a kept worker imported from, is not seen).
    folders = [os.path.abspath(entry) for entry in sys.path[1:] if entry]
    for extra in (os.path.realpath(sys.executable), project, *folders):
        if extra is not None:
            with contextlib.suppress(OSError):
                info = os.stat(extra)
                files[extra] = [info.st_mtime_ns, info.st_size]
    listener = _listen(where, name)
    if listener is None:
        return
    taken = _wait(listener, files, project, linger)
    if taken is None:
        return
    sys.argv[:] = [forkserver.__file__]  # what a spawned worker's modules would see
    forkserver.main()


class _Listener:
    """A listening socket, and the identity of its file (renaming keeps it)."""

    def __init__(self, sock: socket.socket, path: str, own: tuple[int, int] | None) -> None:
        self.sock = sock
        self.path = path
        self.own = own

    def ours(self) -> bool:
        return self.own is not None and _ident(self.path) == self.own

    def close(self) -> None:
        """Stop listening; its socket file goes too, unless a newer spare's replaced it."""
        if self.ours():
            with contextlib.suppress(OSError):
                os.unlink(self.path)
        self.sock.close()


def _ident(path: str) -> tuple[int, int] | None:
    try:
        info = os.lstat(path)
    except OSError:
        return None
    return (info.st_dev, info.st_ino) if stat.S_ISSOCK(info.st_mode) else None


def _listen(where: str, name: str) -> _Listener | None:
    """Listen on ``NAME.sock``: bound under a name of its own, then renamed over any earlier
    spare's (poked, so that it sees at once that it was replaced); then the oldest spares
    beyond :data:`MAX_PARKED` are evicted."""
    path = address(where, name)
    tmp = os.path.join(where, f".{name}.{os.getpid()}.tmp")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(tmp)
        sock.listen(8)
        own = _ident(tmp)
        with _poked(path):
            os.rename(tmp, path)
    except OSError:
        sock.close()
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        return None
    listener = _Listener(sock, path, own)
    _evict(where, path)
    return listener


@contextlib.contextmanager
def _poked(path: str) -> Iterator[None]:
    """Connected to the spare listening at ``path`` (if any) for the block, which removes or
    replaces its socket file: closing the connection then wakes it to see that it is gone."""
    poke = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    poke.setblocking(False)
    try:
        with contextlib.suppress(OSError):
            poke.connect(path)
        yield
    finally:
        poke.close()


def _evict(where: str, own: str) -> None:
    """Remove the oldest spares' sockets beyond :data:`MAX_PARKED` (they exit), those no one
    listens on, and sockets being set up by a process that died."""
    now = time.time()
    parked: list[tuple[int, str]] = []
    for entry in os.listdir(where):
        path = os.path.join(where, entry)
        try:
            info = os.lstat(path)
        except OSError:
            continue
        if entry.endswith(".tmp") and now - info.st_mtime > _TMP_STALE:
            with contextlib.suppress(OSError):
                os.unlink(path)
        elif entry.endswith(".sock") and path != own and stat.S_ISSOCK(info.st_mode):
            parked.append((info.st_mtime_ns, path))
    parked.sort(reverse=True)
    for _, path in parked[MAX_PARKED - 1 :]:
        with _poked(path), contextlib.suppress(OSError):
            os.unlink(path)


def _clock() -> float:
    """Seconds on a clock that runs on while the machine sleeps: the idle time is wall time."""
    return time.clock_gettime(getattr(time, "CLOCK_BOOTTIME", time.CLOCK_MONOTONIC))


def _wait(
    listener: _Listener, files: dict[str, list[int]], project: str | None, linger: float
) -> bool | None:
    """Serve connections until one takes this spare over (True; its descriptors are 0, 1
    and 2 then) or it is to exit (None)."""
    deadline = _clock() + linger
    while True:
        left = deadline - _clock()
        if left <= 0 or not listener.ours():
            break
        if not select.select([listener.sock], [], [], min(left, _CHECK_EVERY))[0]:
            continue
        try:
            conn, _ = listener.sock.accept()
        except OSError:
            continue
        with conn:
            outcome = _serve(conn, listener, files, project)
        if outcome is not False:
            return outcome
    listener.close()
    return None


def _serve(
    conn: socket.socket, listener: _Listener, files: dict[str, list[int]], project: str | None
) -> bool | None:
    """One connection: a poke (False: wait on), a command line of this user and context that
    takes this spare over (True), or one this spare must refuse: a stranger (False), or any
    command line once a module imported here, the interpreter or the project's settings file
    (or where it is) changed on disk (None: it exits)."""
    conn.settimeout(_REQUEST_TIMEOUT)
    try:
        pid, uid = handoff.peer(conn)
        message, fds, _, _ = socket.recv_fds(conn, 16, 3)
    except OSError:
        return False
    try:
        if message != TAKE or len(fds) != 3:
            return False  # a poke, or nothing that makes sense: see whether it is still here
        if uid != os.getuid() or pid <= 0 or context(pid) != context():
            return False
        if changed(files) or find_pyproject(os.getcwd()) != project:
            listener.close()
            return None  # stale: the command line finds the connection closed, and spawns
        listener.close()  # a second command line connecting now finds no one, and spawns
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
        try:
            conn.sendall(f"{os.getpid()}\n".encode())
        except OSError:
            return None  # it gave up waiting (and closed its ends): nothing to serve
        return True
    finally:
        for fd in fds:
            os.close(fd)


if __name__ == "__main__":
    main(sys.argv[1:])
