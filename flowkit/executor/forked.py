"""A warm worker forked from this process rather than started as a fresh interpreter.

A fresh ``python -m flowkit.executor.forkserver`` spends about 100 ms of CPU starting an
interpreter and importing flowkit again, which the command line (``python flow.py run``) has
done already. Forked, the worker inherits those imports and starts in a few milliseconds.

It is forked only where that is safe (:func:`safe`): on Linux, in a process that ends with
its run (the command line: see :func:`flowkit.executor.warm.parking`), from its main thread,
while it runs no other thread (a thread holding a lock at the fork would leave it held in
the worker forever; a Jupyter kernel always runs several). Elsewhere the worker is spawned.
The command line forks it as it starts (:func:`flowkit.executor.warm.prefork`), before it
imports the scheduler's modules: the worker then holds only what its tasks need, which makes
each task's fork cheaper, and imports the rest while the command line imports its own.

The forked worker then makes itself what a spawned one is (:func:`_become_worker`): it
leads a session of its own; its stdin and stdout are the pipes to the scheduler and no other
descriptor of this process stays open in it; no signal handler, exit handler or buffered
output of this process is left to run or be written twice; ``__main__`` and ``sys.argv``
are the fork server's; and every module not imported from the standard library, an
installed package or flowkit itself (the flow's file and the project modules it imported
from the working tree) is forgotten, so the worker imports the flow's code from the run's
snapshot, as a spawned one does, never from the files the scheduler read before it.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import io
import os
import signal
import subprocess
import sys
import sysconfig
import threading
import time
import traceback
from typing import IO, Any, NoReturn

#: Where modules that a fresh worker would import the same way come from: the standard
#: library, installed packages, and flowkit itself (wherever it is imported from).
_KEPT_ROOTS = ("stdlib", "platstdlib", "purelib", "platlib")


def safe(*, ends_with_run: bool) -> bool:
    """Whether a worker may be forked from this process now, which ``ends_with_run`` or not
    (see the module's docstring)."""
    if not ends_with_run or not sys.platform.startswith("linux"):
        return False
    if threading.current_thread() is not threading.main_thread():
        return False
    try:  # native threads too (a library's), not only Python's
        return len(os.listdir("/proc/self/task")) == 1
    except OSError:
        return False


class Forked:
    """A worker forked from this process, driven like the :class:`subprocess.Popen` of a
    spawned one: ``stdin`` and ``stdout`` are its pipes, ``poll``, ``wait`` and ``kill``
    act on its pid (a child of this process, reaped here)."""

    def __init__(self, pid: int, stdin: int, stdout: int) -> None:
        self.pid = pid
        self.stdin: IO[bytes] | None = open(stdin, "wb")  # noqa: SIM115 - closed by shutdown
        self.stdout: IO[bytes] | None = open(stdout, "rb")  # noqa: SIM115
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            self._reap(os.WNOHANG)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = 0.0005
        while (code := self.poll()) is None:
            if deadline is None:
                self._reap(0)
                continue
            left = deadline - time.monotonic()
            if left <= 0:
                raise subprocess.TimeoutExpired([sys.executable], timeout or 0.0)
            time.sleep(min(delay, left))
            delay = min(delay * 2, 0.05)
        return code

    def kill(self) -> None:
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)

    def _reap(self, options: int) -> None:
        try:
            pid, status = os.waitpid(self.pid, options)
        except ChildProcessError:  # reaped by someone else: its status is lost
            self.returncode = -signal.SIGKILL
            return
        if pid:
            self.returncode = os.waitstatus_to_exitcode(status)


def fork() -> Forked:
    """Fork a worker from this process (check :func:`safe` first)."""
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    for stream in (sys.stdout, sys.stderr):  # else what they hold is written twice
        with contextlib.suppress(OSError, ValueError, AttributeError):
            stream.flush()
    pid = os.fork()
    if pid == 0:
        _become_worker(in_r, out_w)
    os.close(in_r)
    os.close(out_w)
    return Forked(pid, in_w, out_r)


def _become_worker(stdin: int, stdout: int) -> NoReturn:
    """In the forked child: shed this process's state, then serve as a fork server."""
    status = 70
    try:
        os.setsid()  # terminal signals reach the scheduler, which decides
        signal.set_wakeup_fd(-1)
        for sig in signal.valid_signals():
            handler = signal.getsignal(sig)
            if callable(handler) and handler is not signal.default_int_handler:
                signal.signal(sig, signal.SIG_DFL)
        atexit._clear()
        # Garbage of this process is collected now, while its descriptors are still its own;
        # closed after, a file object found unreachable later would close a reused number.
        gc.collect()
        os.dup2(stdin, 0)
        os.dup2(stdout, 1)
        os.closerange(3, _max_fd())
        _fresh_std_streams()
        os.environ["PYTHONUNBUFFERED"] = "1"
        _forget_project_modules()
        from flowkit.executor import forkserver

        sys.modules["__main__"] = forkserver
        sys.argv = [str(forkserver.__file__)]
        forkserver.main()
        status = 0
    except BaseException:
        with contextlib.suppress(BaseException):
            sys.stderr.write(f"flowkit: the forked warm worker failed:\n{traceback.format_exc()}")
            sys.stderr.flush()
    os._exit(status)


def _fresh_std_streams() -> None:
    """``sys.stdin``, ``sys.stdout`` and ``sys.stderr`` on descriptors 0, 1 and 2, unbuffered,
    as a fresh interpreter run with ``-u`` has them: this process's may have been replaced
    (click's test runner captures them in memory, a library wraps them to colour its output)
    and would swallow what the worker and its tasks print, or hold what this process did."""
    like = (sys.__stdin__, sys.__stdout__, sys.__stderr__)
    streams = []
    for fd, old in enumerate(like):
        encoding = getattr(old, "encoding", None) or "utf-8"
        errors = getattr(old, "errors", None) or ("backslashreplace" if fd == 2 else "strict")
        raw: Any = io.FileIO(fd, "r" if fd == 0 else "w", closefd=False)  # unbuffered, as -u
        if fd == 0:
            streams.append(io.TextIOWrapper(io.BufferedReader(raw), encoding, errors))
        else:
            streams.append(io.TextIOWrapper(raw, encoding, errors, write_through=True))
    sys.stdin, sys.stdout, sys.stderr = streams


def _max_fd() -> int:
    try:
        return max(int(fd) for fd in os.listdir("/proc/self/fd")) + 1
    except (OSError, ValueError):
        return os.sysconf("SC_OPEN_MAX")


def _forget_project_modules() -> None:
    """Drop every module a fresh worker would not import the same way: the flow's file and
    the project's modules (which the worker imports from the run's code snapshot)."""
    roots = {os.path.dirname(os.path.dirname(os.path.abspath(__file__)))}  # flowkit's own
    for scheme_vars in ({}, {"base": sys.base_prefix, "platbase": sys.base_prefix}):
        paths = sysconfig.get_paths(vars=scheme_vars)
        roots.update(paths[key] for key in _KEPT_ROOTS)
    roots |= {os.path.realpath(root) for root in roots}
    prefixes = tuple(root.rstrip(os.sep) + os.sep for root in roots)
    for name, module in list(sys.modules.items()):
        where = getattr(module, "__file__", None) or next(
            iter(getattr(module, "__path__", ())), None
        )
        if name == "__main__" or (isinstance(where, str) and not where.startswith(prefixes)):
            del sys.modules[name]
