"""Where a spare worker waits between command-line runs, and how the next run takes it over.

``python flow.py run`` ends; its warm worker goes with it. So that the next command-line run
in the same project does not wait for a fresh interpreter to start and import flowkit's task
modules (the critical path of a small run), a command line whose run used a local warm
worker leaves one *parked spare* behind as it exits (:func:`flowkit.executor.warm.prefork`):
a detached ``python -m flowkit.executor.parked`` that imports those modules (never a flow's:
it is generic, before its hello) and waits on a Unix socket in a folder of this user's alone
(:func:`folder`), named by the digest of everything a worker started here would inherit
(``flowkit.executor.warm._spare_key``: interpreter, working directory, the whole
environment, credentials, umask, resource limits, CPU affinity, cgroup, namespaces, ...).
The next command line with an identical key connects (:func:`adopt`), hands it the ends of
the pipes it would have given a worker it spawned (and its own stderr), and gets its pid back:
a few milliseconds instead of the worker's ~100 ms start.

What keeps this safe:

- Both ends check who the other is (``SO_PEERCRED``): the spare serves only a process of its
  own user, in its own namespaces, cgroup, root and security context (:func:`context`), so a
  process sandboxed inside them can never reach out of it through the socket; the command
  line takes only a spare of its own user.
- Before it hands itself over, the spare checks that no file of a module it imported (nor
  the interpreter, nor the project's ``pyproject.toml``, nor a folder on its ``sys.path``,
  where an install adds files) changed on disk since; if one did (an edit of flowkit, an
  upgrade, a ``pip install``), it refuses and exits, and the command line spawns a fresh
  worker, as it does whenever nothing fits or anything fails: the feature is never visible
  except in time.
- One spare is taken by one command line: it stops listening before it answers, so of two
  command lines that connect at once, the other finds the connection closed and spawns.
- Spares are off unless the ``worker_linger`` setting asks for them
  (``FLOWKIT_WORKER_LINGER=5m`` or ``worker_linger = "5m"``): a command line leaves one only
  if its run's settings do. A spare exits after that idle time, once its socket file is
  removed or replaced, and when a newer spare makes it one too many
  (:data:`MAX_PARKED` per user, the oldest goes). A socket left by a spare that was killed
  is removed by the next command line that finds no one listening.

Linux only (``SO_PEERCRED``, ``/proc``); elsewhere every run spawns its worker as before.
Notebooks and other long-lived processes keep their workers in-process instead
(:mod:`flowkit.executor.warm`).
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import IO, TYPE_CHECKING

from flowkit.caches import own_folder, user_runtime

if TYPE_CHECKING:
    import _socket

#: Parked spares one user keeps at most (each holds ~30 MB): a newer one evicts the oldest.
MAX_PARKED = 3
#: Seconds a command line waits for a spare's answer before it spawns a worker instead.
HANDOVER_TIMEOUT = 1.0
#: Hex digits of the key's digest that name a socket (a path holds at most 107 bytes).
NAME_LENGTH = 32
#: What the command line sends with the pipes' ends.
TAKE = b"T"

_STATUS_LINES = (
    "Umask",
    "Uid",
    "Gid",
    "Groups",
    "NoNewPrivs",
    "Seccomp",
    "SigBlk",
    "SigIgn",
    "CapInh",
    "CapPrm",
    "CapEff",
    "CapBnd",
    "CapAmb",
    "Cpus_allowed_list",
    "Mems_allowed_list",
)
_NAMESPACES = ("cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts")


def supported() -> bool:
    return sys.platform.startswith("linux")


def folder(*, create: bool = False) -> str | None:
    """The folder where parked spares wait (``$XDG_RUNTIME_DIR/flowkit/parked``, else under
    the user cache), if it is this user's alone (made so with ``create``); else None."""
    path = user_runtime("parked")
    return path if supported() and own_folder(path, create=create) else None


def address(where: str, name: str) -> str:
    return os.path.join(where, f"{name}.sock")


def context(pid: int | str = "self") -> list[str]:
    """What the process ``pid`` is confined by and hands on to a process it starts, besides
    its environment and interpreter: its working directory, credentials, umask, capabilities,
    seccomp, blocked and ignored signals, CPU and memory affinity (``/proc/PID/status``),
    resource limits, nice value and scheduling policy, OOM score adjustment, cgroup,
    namespaces, root and security label."""
    proc = f"/proc/{pid}"
    state = [_link(f"{proc}/cwd"), _link(f"{proc}/root")]
    state += [_link(f"{proc}/ns/{ns}") for ns in _NAMESPACES]
    status = _read(f"{proc}/status")
    state += [line for line in status.splitlines() if line.partition(":")[0] in _STATUS_LINES]
    stat = _read(f"{proc}/stat").rpartition(")")[2].split()
    state += stat[16:17] + stat[38:39]  # nice, policy (fields 19 and 41)
    for name in ("limits", "cgroup", "oom_score_adj", "attr/current"):
        state.append(_read(f"{proc}/{name}"))
    return state


def changed(files: dict[str, list[int]]) -> bool:
    """Whether any of ``files`` (path -> modification time in ns, size) changed or is gone."""
    for path, (mtime, size) in files.items():
        try:
            info = os.stat(path)
        except OSError:
            return True
        if (info.st_mtime_ns, info.st_size) != (mtime, size):
            return True
    return False


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read()
    except OSError:
        return "-"


def _link(path: str) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return "-"


def lingers() -> bool:
    """Whether this process may take a parked spare and leave one: not where
    ``FLOWKIT_WORKER_LINGER`` turns the feature off (the project's ``pyproject.toml`` is read
    by the spare itself, off the command line's path)."""
    value = os.environ.get("FLOWKIT_WORKER_LINGER")
    if value is None:
        return supported()
    from flowkit.settings import parse_duration

    return supported() and bool(parse_duration(value))


def adopt(name: str) -> Adopted | None:
    """The spare parked here under ``name``, taken over (see the module's docstring); None if
    there is none, it refuses or does not answer in time (a socket no one listens on any
    more is removed)."""
    where = folder()
    if where is None:
        return None
    path = address(where, name)
    try:
        os.lstat(path)
    except OSError:
        return None  # the common miss, without importing anything
    # _socket, not socket: socket.py makes enums of the platform's constants as it is
    # imported, ~3 ms of a command line whose whole start is ~100 ms.
    import _socket

    from flowkit.executor import handoff

    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)  # close-on-exec
    pidfd: int | None = None
    pipes: list[int] = []
    try:
        sock.settimeout(HANDOVER_TIMEOUT)
        try:
            sock.connect(path)
        except ConnectionRefusedError:  # its spare was killed: no one will listen there
            with contextlib.suppress(OSError):
                os.unlink(path)
            return None
        pid, uid = handoff.peer(sock)
        if uid != os.getuid() or pid <= 0 or context(pid) != context():
            return None
        # opened while the spare is known alive (it answers below): it names that process
        pidfd, start = _watch(pid)
        in_r, in_w = os.pipe()
        out_r, out_w = os.pipe()
        pipes = [in_r, in_w, out_r, out_w]
        handoff.send(sock, TAKE, (in_r, out_w, 2))  # its stdin, stdout and stderr
        os.close(in_r)
        os.close(out_w)
        pipes = [in_w, out_r]
        if _answer(sock) != pid:
            return None
        worker = Adopted(pid, pidfd, start, os.fdopen(in_w, "wb"), os.fdopen(out_r, "rb"))
        pidfd, pipes = None, []
        return worker
    except OSError:  # refused, timed out, or gone meanwhile: a fresh worker it is
        return None
    finally:
        sock.close()
        for fd in [*pipes, *([] if pidfd is None else [pidfd])]:
            os.close(fd)


def _watch(pid: int) -> tuple[int | None, int | None]:
    """A pidfd for ``pid`` where the kernel has them, else its start time."""
    try:
        return os.pidfd_open(pid), None
    except (AttributeError, OSError):
        from flowkit.executor.reaper import start_time

        return None, start_time(pid)


def _answer(sock: _socket.socket) -> int | None:
    """The pid the spare answers with (a line), or None if it closed without one."""
    data = b""
    while not data.endswith(b"\n"):
        chunk = sock.recv(64)
        if not chunk:
            return None
        data += chunk
    try:
        return int(data)
    except ValueError:
        return None


class Adopted:
    """A warm worker this process took over (:func:`adopt`) rather than started: the part of
    :class:`subprocess.Popen` the executor uses, for a process that is not its child. Its
    exit is seen through a pidfd where the kernel has them, else by its start time no longer
    matching its pid. Its exit status is its parent's to know, not this process's:
    ``returncode`` is ``-SIGKILL`` once it ended after this process killed it, else 0."""

    def __init__(
        self, pid: int, pidfd: int | None, start: int | None, stdin: IO[bytes], stdout: IO[bytes]
    ) -> None:
        self.pid = pid
        self.stdin: IO[bytes] | None = stdin
        self.stdout: IO[bytes] | None = stdout
        self.returncode: int | None = None
        self._pidfd = pidfd
        self._start = start
        self._killed = False

    def poll(self) -> int | None:
        if self.returncode is None and self._ended(0.0):
            self._reaped()
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            if not self._ended(timeout):
                import subprocess

                raise subprocess.TimeoutExpired(f"worker {self.pid}", timeout or 0.0)
            self._reaped()
        assert self.returncode is not None
        return self.returncode

    def kill(self) -> None:
        import signal

        if self.poll() is not None:
            return
        self._killed = True
        try:
            if self._pidfd is not None:
                signal.pidfd_send_signal(self._pidfd, signal.SIGKILL)
            elif self._alive():
                os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def exit_fd(self) -> int | None:
        """A new descriptor that becomes readable as the worker exits (a pidfd), or None."""
        return None if self._pidfd is None else os.dup(self._pidfd)

    def _ended(self, timeout: float | None) -> bool:
        import select
        import time

        if self._pidfd is not None:
            return bool(select.select([self._pidfd], [], [], timeout)[0])
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._alive():
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        return True

    def _alive(self) -> bool:
        from flowkit.executor.reaper import start_time

        return self._start is not None and start_time(self.pid) == self._start

    def _reaped(self) -> None:
        import signal

        self.returncode = -signal.SIGKILL if self._killed else 0
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None
            self._start = None  # ended: never alive again, whoever gets its pid
