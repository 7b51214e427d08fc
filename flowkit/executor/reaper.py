"""Finding and killing every process a task started, even ones that left its process group.

On Linux the warm worker and each task it forks are child subreapers
(``prctl(PR_SET_CHILD_SUBREAPER)``): a process whose parent dies is re-parented to the
nearest of them instead of to init. So while a task runs, everything it started (a
``setsid`` child, a daemon that double-forked) stays below the task; once the task has ended,
what is left of it is re-parented to the worker, which kills it. Elsewhere (macOS, ...)
only the task's process group is killed, as it always was.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys

#: From ``<linux/prctl.h>``.
_PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> bool:
    """Make this process adopt its orphaned descendants; False where that is not possible."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return False
    return bool(libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)


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
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                stat = fh.read()
        except OSError:
            continue
        # The command name (in parentheses) may hold spaces; the parent's pid follows it.
        if int(stat.rpartition(")")[2].split()[1]) == pid:
            found.append(int(entry))
    return found


def kill_tree(pid: int) -> list[int]:
    """SIGKILL ``pid`` and every process below it; the pids signalled, ``pid`` first.

    Each process is stopped before its children are listed, so none can start another
    unseen; anything that still slips through is re-parented to a subreaper and found there.
    """
    tree: list[int] = []
    todo = [pid]
    while todo:
        current = todo.pop()
        try:
            os.kill(current, signal.SIGSTOP)
        except (ProcessLookupError, PermissionError):  # gone, or not ours to kill
            continue
        tree.append(current)
        todo += children_of(current)
    for member in tree:
        with contextlib.suppress(ProcessLookupError):
            os.kill(member, signal.SIGKILL)
    return tree
