"""Warm workers kept between runs in one long-lived process (a Jupyter kernel, a script that
runs flows in a loop), so that the next run of the same code starts its tasks in milliseconds
instead of waiting for a fresh worker to import the flow (and sklearn, torch, ...) again.

A worker that ended a run cleanly (no task left, nothing unread) is parked here under its
*key*: everything its imports could have depended on when it started, that is the hello it
was given (store, the code package's digest: the flow file, the project's modules or the
notebook's cells as they were), the interpreter, the working directory and the whole
environment. A later run takes it only when its own key is identical, so a run never executes
stale code: an edited cell or module changes the package's digest, a variable set in
``os.environ`` changes the environment, and either starts a fresh worker. So does a change on
disk (modification time or size) of any file of a module the worker imported, the package's
and those from outside it alike (a library on ``PYTHONPATH`` edited, a package upgraded).

Parked workers are bounded (:data:`MAX_IDLE`, the oldest goes first) and never outlive this
process: they are shut down at exit, and a process that dies without running its exit
handlers (a kernel killed or restarted) closes their stdin, on which they exit.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import os
import select
import subprocess
import sys
from collections import OrderedDict
from typing import Any

#: Idle warm workers kept at most: each holds the memory its flow's imports took.
MAX_IDLE = 2

#: The parked workers by key: the process and the files of the modules it imported, each
#: with its modification time and size then.
_idle: OrderedDict[str, tuple[subprocess.Popen[bytes], dict[str, list[int]]]] = OrderedDict()
_at_exit = False


def worker_key(hello: dict[str, Any]) -> str:
    """What a warm worker started with ``hello`` here and now depends on, as a digest."""
    state = {
        "hello": hello,
        "python": sys.executable,
        "cwd": os.getcwd(),
        "env": dict(os.environ),
    }
    return hashlib.sha256(json.dumps(state, sort_keys=True).encode()).hexdigest()


def take(key: str) -> subprocess.Popen[bytes] | None:
    """The idle worker parked under ``key``, removed from the idle ones, if it is still
    alive and silent and no module it imported changed on disk since (else it is shut
    down)."""
    parked = _idle.pop(key, None)
    if parked is None:
        return None
    proc, files = parked
    if proc.poll() is not None or _has_output(proc) or _changed(files):
        shutdown(proc)
        return None
    return proc


def keep(key: str, proc: subprocess.Popen[bytes], files: dict[str, list[int]]) -> None:
    """Park ``proc`` (idle: it runs no task) under ``key`` for a later run to take, with
    the files of the modules it imported (path -> modification time, size)."""
    global _at_exit
    if not _at_exit:
        atexit.register(close_all)
        _at_exit = True
    previous = _idle.pop(key, None)
    if previous is not None:
        shutdown(previous[0])
    _idle[key] = (proc, files)
    while len(_idle) > MAX_IDLE:
        shutdown(_idle.popitem(last=False)[1][0])


def idle_pids() -> list[int]:
    """The process ids of the parked workers, oldest first."""
    return [proc.pid for proc, _ in _idle.values()]


def close_all() -> None:
    """Shut down every parked worker."""
    while _idle:
        shutdown(_idle.popitem(last=False)[1][0])


def shutdown(proc: subprocess.Popen[bytes]) -> None:
    """Ask the worker ``proc`` to kill its tasks and exit; kill it if it has not within 5 s."""
    if proc.poll() is None:
        try:
            assert proc.stdin is not None
            proc.stdin.write(b'{"op":"shutdown"}\n')
            proc.stdin.flush()
            proc.stdin.close()
        except (BrokenPipeError, ValueError):
            pass
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc.stdin is not None:
        with contextlib.suppress(BrokenPipeError, ValueError):
            proc.stdin.close()
    if proc.stdout is not None:
        proc.stdout.close()


def _changed(files: dict[str, list[int]]) -> bool:
    for path, (mtime, size) in files.items():
        try:
            stat = os.stat(path)
        except OSError:
            return True
        if (stat.st_mtime_ns, stat.st_size) != (mtime, size):
            return True
    return False


def _has_output(proc: subprocess.Popen[bytes]) -> bool:
    assert proc.stdout is not None
    readable, _, _ = select.select([proc.stdout.fileno()], [], [], 0)
    return bool(readable)
