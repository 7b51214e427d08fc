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
and those from outside it alike (a library on ``PYTHONPATH`` edited, a package upgraded), or
of any file the worker itself read (a settings file the flow's module read at import).

A run that knows it will fork its tasks here starts a *spare* worker first (:func:`spare`):
a fresh interpreter that imports flowkit's task modules while the run lints, plans and
snapshots its code, then waits for its hello (which names the code, so it cannot come
earlier). A spare is generic until it reads its hello: any run here with the same interpreter,
working directory and environment may take it; one not taken is killed when its run ends.
The command line starts its run's spare earlier still, as the flow file hands it control
(:func:`prefork`), so that the worker imports while the command line imports its own modules;
that spare also imports the installed packages the flow file imported (numpy, torch: see
:func:`installed_imports`), which the flow's import after the hello then finds done.

A worker is always a fresh interpreter, never forked from the process that starts the run:
that process has run the flow file, ``sitecustomize`` and the project's modules, whose open
files, logging handlers, threads and debugger a fork would carry into the worker and every task.

A command line is a process that exits after its run, so it keeps no worker in-process;
instead, if its run used a local warm worker, it leaves a generic spare behind as it exits,
detached, which the next command-line run in an identical context takes over in a few
milliseconds (:mod:`flowkit.executor.rendezvous`): :func:`prefork` tries that first. Such a
worker is not this process's child: the executor holds it as an
:class:`~flowkit.executor.rendezvous.Adopted`, which does what it needs of a
:class:`subprocess.Popen` (:class:`Worker`).

Parked workers are bounded (:data:`MAX_IDLE`, the oldest goes first) and never outlive this
process: they are shut down at exit, and a process that dies without running its exit
handlers (a kernel killed or restarted) closes their stdin, on which they exit. A process
forked from this one (``multiprocessing`` in a kernel) inherits none of them: it can neither
take the parent's workers nor shut them down at its exit. One parked worker is taken by one
run only, even with runs in several threads at once.

A worker taken again is *renewed* before it runs anything (see ``op: renew`` in
:mod:`flowkit.executor.forkserver`): it opens its store afresh, so nothing it remembered of
the store (digests it believed stored, which a gc between runs may have swept) survives into
the next run, and a worker that does not answer is replaced by a fresh one.

What is shared on purpose: the imports themselves. The flow's modules and the libraries they
import are imported once per worker, not once per run, as a kernel imports a module once for
all its cells; so whatever else they did *at import time* (a global set from the clock, a
random state seeded then, a connection opened) is the same in every run that reuses it, as
it already was in every task of one run. Python's ``random`` is reseeded in each forked task,
and numpy's global generator, unless the import seeded or drew from it, seeds itself on first
use in each task (tests/executor/test_task_rng.py); anything a run needs fresh is made in a
step (or seeded there), not at import.
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
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any, Protocol

from flowkit.executor import rendezvous


class Worker(Protocol):
    """A warm worker process as the executor uses it: one it started
    (:class:`subprocess.Popen`) or one it took over (:class:`rendezvous.Adopted`)."""

    pid: int
    stdin: IO[bytes] | None
    stdout: IO[bytes] | None
    returncode: int | None

    def poll(self) -> int | None: ...

    def wait(self, timeout: float | None = None) -> int: ...

    def kill(self) -> None: ...


#: Idle warm workers kept at most: each holds the memory its flow's imports took.
MAX_IDLE = 2

#: The parked workers by key: the process and the files of the modules it imported, each
#: with its modification time and size then.
_idle: OrderedDict[str, tuple[Worker, dict[str, list[int]]]] = OrderedDict()
_at_exit = False
#: Held while ``_idle`` or ``_spares`` change: runs in several threads take and park at once.
_lock = threading.Lock()
#: Spare workers not yet taken, each with the key of what it was started with (see
#: :func:`_spare_key`).
_spares: dict[Worker, str] = {}
#: Whether a worker idle at the end of its run is parked (see :func:`parking`).
_parking = [True]
#: Whether a run in this process used a local warm worker (see :func:`_leave_spare`).
_used = [False]
#: Whether the settings of a run here ask for a parked spare (``worker_linger``).
_leaves = [False]


def _forget_inherited() -> None:
    """In a process just forked from this one: the parent's parked and spare workers are not
    ours. Close our copies of their pipes (so they still see end of file when the parent
    dies) and forget them, without a word to them."""
    global _lock
    _lock = threading.Lock()  # another thread may have held it at the fork
    for proc in [*(proc for proc, _ in _idle.values()), *_spares]:
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()  # the file object, so its fd is not closed again later
        proc.returncode = 0  # not ours to wait for
    _idle.clear()
    _spares.clear()
    _early.clear()
    _used[0] = False
    _leaves[0] = False


os.register_at_fork(after_in_child=_forget_inherited)


def spawn() -> subprocess.Popen[bytes]:
    """A fresh worker, which imports what its tasks need and then waits for its hello."""
    return subprocess.Popen(
        [sys.executable, "-m", "flowkit.executor.forkserver"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        start_new_session=True,  # terminal signals reach the scheduler, which decides
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


#: The spare started as the command line started (see :func:`prefork`), until a run's
#: :func:`spare` takes it or drops it.
_early: list[Worker] = []


def prefork(argv: list[str]) -> None:
    """Start the run's spare worker now, as ``python flow.py run`` (or ``resume``) hands the
    command line control, so that the fresh interpreter imports flowkit's task modules while
    the command line imports its own, then lints, plans and snapshots the code; or, faster,
    take over the one an earlier command line here left parked (see
    :mod:`flowkit.executor.rendezvous`), which has done that already. The run's :func:`spare`
    takes it, as it would have started it; a command that starts no run here (``--help``,
    ``--dry-run``, ``--detach``, a run with no local step) shuts it down, and one that never
    gets that far (a usage error, Ctrl-C) shuts it down as this process exits (or, killed,
    closes its stdin, on which it exits too). If a run here used a local warm worker, this
    process leaves a parked spare for the next command line as it exits."""
    if not ({"run", "resume"} & set(argv)) or {"--help", "--dry-run", "--detach"} & set(argv):
        return
    key = _spare_key()
    lingers = rendezvous.lingers()
    proc = (rendezvous.adopt(key[: rendezvous.NAME_LENGTH]) if lingers else None) or spawn()
    preload = installed_imports()
    if preload:  # ahead of the hello, which only the run can send
        with contextlib.suppress(OSError, ValueError):  # gone: the run will start another
            assert proc.stdin is not None
            message = {"op": "preload", "modules": preload}  # as forkserver.main reads it
            proc.stdin.write(json.dumps(message, separators=(",", ":")).encode() + b"\n")
            proc.stdin.flush()
    with _lock:
        _spares[proc] = key
        _early.append(proc)
    atexit.register(_drop_early)
    if lingers:
        atexit.register(_leave_spare)


def installed_imports() -> list[str]:
    """``NAME=FILE`` for each installed package (one in a site-packages folder; not
    flowkit, nor a private ``_name``) this process has imported: the flow file's own imports
    (numpy, pandas, torch) by the time it hands the command line control. Its spare worker
    imports them while the command line lints, plans and snapshots the code: the flow's
    import, after the hello, then finds them done. Nothing of the project itself is named
    (it comes from the code snapshot), and the flow's module code has already run here, so
    what it set in ``os.environ`` before its imports is in the worker's environment too."""
    site = sys.modules.get("site")
    if site is None:  # python -S: no site-packages to tell apart
        return []
    with contextlib.suppress(AttributeError):  # an old virtualenv's site module lacks these
        folders = [*site.getsitepackages(), site.getusersitepackages()]
        roots = tuple(os.path.join(folder, "") for folder in folders)
        found = []
        for name, module in list(sys.modules.items()):
            path = getattr(module, "__file__", None)
            if "." in name or name.startswith("_") or name == "flowkit":
                continue
            if isinstance(path, str) and path.startswith(roots):
                found.append(f"{name}={path}")
        return found
    return []


def _leave_spare() -> None:
    """At the command line's exit, once a run here used a local warm worker: start the
    parked spare that the next command-line run here takes over (see
    :mod:`flowkit.executor.rendezvous`), detached (a session of its own, no terminal, no
    pipe of this process's), in this process's environment and working directory as they
    are now, as a worker spawned now would have them. Started as this process ends, after
    the run's output, it costs the command line only its fork and exec (~1-3 ms); it
    settles its own settings (``worker_linger`` 0 in ``pyproject.toml``: it exits)."""
    if not (_used[0] and _leaves[0]) or rendezvous.folder(create=True) is None:
        return
    name = _spare_key()[: rendezvous.NAME_LENGTH]
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "flowkit.executor.parked", name],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    except OSError:
        return  # the next run spawns its worker, as it would have anyway
    proc.returncode = 0  # not this process's to wait for: it outlives it


def _drop_early() -> None:
    """Shut down the spare :func:`prefork` started if no run took it."""
    with _lock:
        early = [proc for proc in _early if _spares.pop(proc, None) is not None]
        _early.clear()
    for proc in early:
        shutdown(proc, grace=0.0)  # it holds nothing yet: killing it loses nothing


def _spare_key() -> str:
    """What a fresh worker started here and now inherits: a spare is taken only by a run
    that would start an identical one. Beyond the interpreter, working directory and whole
    environment, on Linux also what confines this process (credentials, umask, resource
    limits, CPU affinity, cgroup, namespaces, ...: :func:`rendezvous.context`), so that a
    spare left by a command line inside a Slurm job or a sandbox is never taken outside it."""
    state = {
        "python": sys.executable,
        "cwd": os.getcwd(),
        "env": dict(os.environ),
        "context": rendezvous.context() if rendezvous.supported() else None,
    }
    return hashlib.sha256(json.dumps(state, sort_keys=True).encode()).hexdigest()


class Spare:
    """A spare worker started for one run (see :func:`spare`)."""

    def __init__(self, proc: Worker | None) -> None:
        self._proc = proc

    def leave_parked(self, linger: float) -> None:
        """Say what the run's settings say of parked spares (``worker_linger``: seconds; 0,
        the default, for none): a command line leaves one as it exits only if asked to."""
        _leaves[0] = linger > 0

    def drop(self) -> None:
        """Kill the spare if no run took it (the run turned out not to need it)."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        with _lock:
            untaken = _spares.pop(proc, None) is not None
        if untaken:
            shutdown(proc, grace=0.0)  # it holds nothing yet: killing it loses nothing


@contextmanager
def spare(wanted: bool = True) -> Iterator[Spare]:
    """Start a spare worker (when ``wanted``) for the run prepared in the block, which its
    local executor takes (:func:`take_spare`) once the run's hello is known; killed at the
    block's end if no run took it, however the block ended. None is started while a worker
    is parked here: the run will most likely take that one."""
    proc = None
    if wanted:
        with _lock:
            wanted = not _idle
    key = _spare_key()
    with _lock:  # the command line's early spare, if it still fits (see :func:`prefork`)
        early = next((p for p in _early if _spares.get(p) == key), None) if wanted else None
        if early is not None:
            _early.remove(early)
    _drop_early()  # one that does not fit, or is not wanted
    if early is not None:
        proc = early
    elif wanted:
        proc = spawn()
        with _lock:
            _spares[proc] = key
    handle = Spare(proc)
    try:
        yield handle
    finally:
        handle.drop()


def take_spare() -> Worker | None:
    """A spare worker this run may use (removed from the spares), or None. A run that asks
    uses a local warm worker: at its end, a command line leaves a spare behind."""
    key = _spare_key()
    with _lock:
        _used[0] = True
        proc = next((p for p, k in _spares.items() if k == key), None)
        if proc is not None:
            del _spares[proc]
    if proc is not None and proc.poll() is not None:
        shutdown(proc)  # it died importing: a fresh one started now says why
        return None
    return proc


@contextmanager
def parking(allowed: bool) -> Iterator[None]:
    """While the block runs, park idle workers at their run's end only if ``allowed``: a
    process that exits after its run (the command line) shuts its worker down at once
    rather than asking it which files it imported, to park it, and shutting it down at exit."""
    before, _parking[0] = _parking[0], allowed
    try:
        yield
    finally:
        _parking[0] = before


def parks() -> bool:
    """Whether a worker idle at its run's end is parked for a later run (see :func:`parking`)."""
    return _parking[0]


def worker_key(hello: dict[str, Any]) -> str:
    """What a warm worker started with ``hello`` here and now depends on, as a digest."""
    state = {
        "hello": hello,
        "python": sys.executable,
        "cwd": os.getcwd(),
        "env": dict(os.environ),
    }
    return hashlib.sha256(json.dumps(state, sort_keys=True).encode()).hexdigest()


def take(key: str) -> Worker | None:
    """The idle worker parked under ``key``, removed from the idle ones, if it is still
    alive and silent and no module it imported changed on disk since (else it is shut
    down)."""
    with _lock:
        parked = _idle.pop(key, None)
    if parked is None:
        return None
    proc, files = parked
    if proc.poll() is not None or _has_output(proc) or rendezvous.changed(files):
        shutdown(proc)
        return None
    return proc


def keep(key: str, proc: Worker, files: dict[str, list[int]]) -> None:
    """Park ``proc`` (idle: it runs no task) under ``key`` for a later run to take, with
    the files of the modules it imported (path -> modification time, size)."""
    global _at_exit
    with _lock:
        if not _at_exit:
            atexit.register(close_all)
            _at_exit = True
        previous = _idle.pop(key, None)
        extra = [previous[0]] if previous is not None else []
        _idle[key] = (proc, files)
        while len(_idle) > MAX_IDLE:
            extra.append(_idle.popitem(last=False)[1][0])
    for old in extra:
        shutdown(old)


def idle_pids() -> list[int]:
    """The process ids of the parked workers, oldest first."""
    with _lock:
        return [proc.pid for proc, _ in _idle.values()]


def close_all() -> None:
    """Shut down every parked worker."""
    with _lock:
        procs = [proc for proc, _ in _idle.values()]
        _idle.clear()
    for proc in procs:
        shutdown(proc)


def shutdown(proc: Worker, grace: float = 5.0) -> None:
    """Ask the worker ``proc`` to kill its tasks and exit; kill it if it has not within
    ``grace`` seconds (none for one still importing the flow, which reads no request)."""
    if proc.poll() is None:
        try:
            assert proc.stdin is not None
            proc.stdin.write(b'{"op":"shutdown"}\n')
            proc.stdin.flush()
            proc.stdin.close()
        except (BrokenPipeError, ValueError):
            pass
        if not _exited(proc, grace):
            proc.kill()
            proc.wait()
    if proc.stdin is not None:
        with contextlib.suppress(BrokenPipeError, ValueError):
            proc.stdin.close()
    if proc.stdout is not None:
        proc.stdout.close()


def _exited(proc: Worker, timeout: float) -> bool:
    """Whether ``proc`` exited (and was reaped) within ``timeout`` seconds: woken by its exit
    through a pidfd where the kernel has them, not by Popen.wait's polling, while what it
    still sends is read and dropped (so it cannot block on a full pipe)."""
    pidfd = _pidfd(proc)
    if pidfd is None:
        try:
            proc.wait(timeout=timeout)
            return True
        except subprocess.TimeoutExpired:
            return False
    try:
        fds = [pidfd] if proc.stdout is None else [pidfd, proc.stdout.fileno()]
        deadline = time.monotonic() + timeout
        while pidfd not in (ready := select.select(fds, [], [], _left(deadline))[0]):
            if not ready or time.monotonic() >= deadline:  # a worker that keeps talking too
                return False
            if not os.read(fds[1], 1 << 16):
                fds.pop()  # its end of the pipe closed: only its exit is left to wait for
    finally:
        os.close(pidfd)
    proc.wait()
    return True


def _pidfd(proc: Worker) -> int | None:
    """A new pidfd of ``proc``, or None (a kernel without them, or gone and reaped already).
    One taken over has its own, opened while its pid surely named it."""
    if isinstance(proc, rendezvous.Adopted):
        return proc.exit_fd()
    pidfd_open = getattr(os, "pidfd_open", None)
    try:
        return pidfd_open(proc.pid) if pidfd_open is not None else None
    except OSError:
        return None


def _left(deadline: float) -> float:
    return max(0.0, deadline - time.monotonic())


def _has_output(proc: Worker) -> bool:
    assert proc.stdout is not None
    readable, _, _ = select.select([proc.stdout.fileno()], [], [], 0)
    return bool(readable)
