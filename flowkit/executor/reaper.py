"""Finding and killing every process a task started, even ones that left its process group.

Each task runs below a *shepherd*: the process the warm worker (its zygote) forks for the
task, which runs no user code. On Linux the shepherd is a child subreaper
(``prctl(PR_SET_CHILD_SUBREAPER)``): a process whose parent dies is re-parented to it instead
of to init, so everything the task started (a ``setsid`` child, a daemon that double-forked)
stays below the shepherd, which reaps what it adopts (no zombies pile up) and, once the task
has ended, kills what is left. Elsewhere (macOS, ...) orphans go to init and only what is
still below the shepherd, its process group included, is killed.
"""

from __future__ import annotations

import contextlib
import os
import resource
import select
import signal
import sys
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import ctypes

#: From ``<linux/prctl.h>``.
_PR_SET_PDEATHSIG = 1
_PR_SET_DUMPABLE = 4
_PR_SET_NAME = 15
_PR_SET_CHILD_SUBREAPER = 36
#: Walks of a tree before giving up on it (each walk finds what the previous one missed).
_MAX_ROUNDS = 100

_libc: ctypes.CDLL | None = None


def load_libc() -> ctypes.CDLL | None:
    """The C library, through which process options are set (Linux; None elsewhere): opened
    once, by the warm worker before it forks, so that no shepherd opens it again (a tenth of
    a shepherd's page faults). Imported here: the run's scheduler finds and kills trees but
    sets no process options, and ctypes was ~3 ms of its start."""
    global _libc
    if _libc is None and sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError):
            _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


def _prctl(option: int, arg: int) -> bool:
    libc = load_libc()
    try:
        return libc is not None and bool(libc.prctl(option, arg, 0, 0, 0) == 0)
    except AttributeError:
        return False


def name_process(name: str) -> bool:
    """Name this process ``name`` (at most 15 bytes) where ``ps -o comm``, ``top`` and
    ``/proc/PID/comm`` show it (Linux); False elsewhere."""
    libc = load_libc()
    try:
        return libc is not None and libc.prctl(_PR_SET_NAME, name.encode()[:15], 0, 0, 0) == 0
    except (AttributeError, TypeError):
        return False


def become_subreaper() -> bool:
    """Make this process adopt its orphaned descendants; False where that is not possible."""
    return _prctl(_PR_SET_CHILD_SUBREAPER, 1)


def die_with_parent(sig: int = signal.SIGKILL) -> bool:
    """Have ``sig`` sent to this process when its parent dies (Linux); False elsewhere."""
    return _prctl(_PR_SET_PDEATHSIG, sig)


def no_core_dump() -> None:
    """Let this process die by any signal without dumping core, to a file or a pipe."""
    with contextlib.suppress(OSError, ValueError):
        hard = resource.getrlimit(resource.RLIMIT_CORE)[1]
        resource.setrlimit(resource.RLIMIT_CORE, (0, hard))
    _prctl(_PR_SET_DUMPABLE, 0)  # a core_pattern pipe ignores RLIMIT_CORE


def _stat(pid: int) -> list[str] | None:
    """The fields of ``/proc/PID/stat`` from the state (field 3) on; None if it cannot be read.
    (The command name before them, in parentheses, may hold spaces.)"""
    try:  # not open(): no file objects, for the zygote, which reads it after each fork
        fd = os.open(f"/proc/{pid}/stat", os.O_RDONLY)
    except OSError:
        return None
    try:
        return os.read(fd, 4096).decode(errors="replace").rpartition(")")[2].split()
    except OSError:
        return None
    finally:
        os.close(fd)


def start_time(pid: int) -> int | None:
    """When ``pid`` started (field 22 of ``/proc/PID/stat``, clock ticks after boot): with the
    pid it names one process, not whichever holds the pid now. None where it is not known."""
    fields = _stat(pid)
    return None if fields is None else int(fields[19])


def parent_of(pid: int) -> int | None:
    """The pid of ``pid``'s parent (field 4 of ``/proc/PID/stat``); None where it is not
    known."""
    fields = _stat(pid)
    return None if fields is None else int(fields[1])


def children_of(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (zombies included), from ``/proc``."""
    try:
        threads = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    found: list[int] = []
    for tid in threads:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as fh:
                found += map(int, fh.read().split())
        except FileNotFoundError:
            # A kernel without CONFIG_PROC_CHILDREN, or a thread that just ended.
            return _children_by_scan(pid)
        except ProcessLookupError:
            continue
    return found


def _children_by_scan(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and parent_of(int(entry)) == pid:
            found.append(int(entry))
    return found


def kill_tree(pid: int, *, start: int | None = None, spare_root: bool = False) -> list[int]:
    """SIGKILL ``pid`` and every process below it; the pids signalled, ``pid`` first.

    ``pid`` is stopped first and killed last; with ``spare_root``, it is continued instead
    (a shepherd, which then reaps what was killed below it). Each process below it is
    stopped before its children are listed, so none can start another unseen; one whose
    parent exits before it is stopped is re-parented to ``pid`` when ``pid`` is a subreaper,
    so the tree is walked again until a walk finds nothing new. With ``start`` (see
    :func:`start_time`), nothing is signalled unless ``pid`` is still the process that
    started then (its pid may have been reused): checked through a pidfd where the kernel
    has them, so the check cannot race.
    """
    send = _root_signaller(pid, start)
    if send is None:
        return []
    try:
        try:
            send(signal.SIGSTOP)
        except (ProcessLookupError, PermissionError):  # gone, or not ours to kill
            return []
        tree = [pid]
        killed: set[int] = set()
        for _ in range(_MAX_ROUNDS):
            found: list[int] = []
            todo = children_of(pid)
            while todo:
                current = todo.pop()
                if current not in killed:
                    try:
                        os.kill(current, signal.SIGSTOP)
                    except (ProcessLookupError, PermissionError):
                        continue
                    found.append(current)
                todo += children_of(current)
            if not found:
                break
            for member in found:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(member, signal.SIGKILL)
            killed.update(found)
            tree += found
        with contextlib.suppress(ProcessLookupError):
            send(signal.SIGCONT if spare_root else signal.SIGKILL)
        return tree
    finally:
        send.close()


class _Send:
    def __init__(self, pid: int, fd: int | None) -> None:
        self.pid, self.fd = pid, fd

    def __call__(self, sig: int) -> None:
        if self.fd is None:
            os.kill(self.pid, sig)
        else:
            signal.pidfd_send_signal(self.fd, sig)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)


def _root_signaller(pid: int, start: int | None) -> _Send | None:
    if start is None:
        return _Send(pid, None)
    fd: int | None = None
    pidfd_open = getattr(os, "pidfd_open", None)
    if pidfd_open is not None and hasattr(signal, "pidfd_send_signal"):
        try:
            fd = pidfd_open(pid)
        except ProcessLookupError:
            return None
        except OSError:  # a kernel without pidfds
            fd = None
    # Checked after the pidfd is open: if the process holding the pid now started when the
    # task did, it is the task, and it is also the one the pidfd refers to.
    if start_time(pid) != start:
        if fd is not None:
            os.close(fd)
        return None
    return _Send(pid, fd)


def reap_within(pids: Iterable[int], within: float) -> set[int]:
    """Reap each of the child processes ``pids`` as it exits, for up to ``within`` seconds;
    the ones still running then. Woken by each exit through pidfds where the kernel has them
    (a run's end waits on two levels of these: every millisecond of polling showed)."""
    left = set(pids)
    deadline = time.monotonic() + within
    fds = _exit_fds(left)
    try:
        while True:
            for pid in list(left):
                with contextlib.suppress(ChildProcessError):  # reaped already: not ours
                    if os.waitpid(pid, os.WNOHANG)[0] == 0:
                        continue
                left.discard(pid)
            remaining = deadline - time.monotonic()
            if not left or remaining <= 0:
                return left
            if fds is None:
                time.sleep(min(0.002, remaining))
            else:  # poll, not select: a worker may hold descriptors past select's 1024
                waiting = select.poll()
                for pid in left:
                    waiting.register(fds[pid], select.POLLIN)
                waiting.poll(remaining * 1000)
    finally:
        for fd in (fds or {}).values():
            os.close(fd)


def _exit_fds(pids: set[int]) -> dict[int, int] | None:
    """A pidfd for each of ``pids`` (readable once it exits), or None where the kernel has
    none, or one has been reaped already (the polling loop then sees it gone)."""
    pidfd_open = getattr(os, "pidfd_open", None)
    if pidfd_open is None:
        return None
    fds: dict[int, int] = {}
    for pid in pids:
        try:
            fds[pid] = pidfd_open(pid)
        except OSError:
            for fd in fds.values():
                os.close(fd)
            return None
    return fds
