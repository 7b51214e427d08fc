"""The warm worker's *zygote*: a copy of the worker, forked once it has imported the flow,
that does the worker's forking for it.

Forking write-protects every page of the process that forks, and each page it writes next is
copied for it. The worker writes a great deal between two forks (it reads requests, relays
and stores the tasks' output, reports their ends): forking its tasks itself, it was copying
~380 pages a task, ~2 ms of system time on a VM where a copied page costs ~5 µs. The zygote
writes little between forks (it reads a request, hands it on, answers), and the worker, which
no longer forks, copies nothing once it has written each page once.

The zygote keeps one shepherd forked ahead of the next task, with the task's process already
forked below it and waiting (see :class:`_Loop`): the next task starts without waiting for a
fork (each was ~2-4 ms on a VM), which is most of a linear flow's time between two steps.

The worker talks to its zygote over a socket pair, in JSON lines like the rest of the warm
worker: ``run`` (the task's spec and environment, with the write ends of its stdout, stderr
and status pipes passed along, ``SCM_RIGHTS``), ``prepare``, ``renew`` and ``modules`` (see
:mod:`.forkserver`); the zygote answers ``forked`` (the shepherd's pid and start time, read
before it can be reaped, so they name it) and ``modules``, and reports the ``exit`` of each
shepherd it reaps. The zygote dies with the worker (``PR_SET_PDEATHSIG``); the worker treats
the end of its zygote as its own (see :meth:`.forkserver.ForkServer.zygote_gone`).
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
from collections import deque
from collections.abc import Callable
from typing import Any, NoReturn, Protocol

from flowkit.executor import handoff
from flowkit.executor.forkserver import TaskStart
from flowkit.executor.reaper import die_with_parent, name_process, reap_within, start_time

#: What the zygote is called in ``/proc/PID/comm`` (``ps -o comm``, ``top``).
NAME = "flowkit-zygote"
#: Descriptors one read may carry: three per ``run``, and a read may hold several requests.
_MAX_FDS = 63
#: Seconds the zygote, told to end, waits for its shepherds to exit (they are all ending).
_END_WITHIN = 2.0
#: How a request to run a task begins (as :meth:`Zygote.send` writes it): such a request is
#: handed on as it came, not read here (see TaskStart).
_RUN = b'{"op":"run",'


class Forker(Protocol):
    """What the zygote uses of the worker it was forked from (a ForkServer)."""

    def become_zygote(self) -> None:
        """Close what is the worker's alone (its news channel, its wakeup pipe)."""

    def fork_shepherd(
        self, close: list[int], task: Callable[[], TaskStart | None], name: str | None = None
    ) -> int:
        """Fork a shepherd, which closes ``close``, takes the process name ``name`` and
        gets its task from ``task()``."""

    def prepare_task(self, spec_json: str) -> bool:
        """Make ready what tasks like ``spec_json`` need before they are forked; whether
        that made anything."""

    def renew_store(self) -> None:
        """Open the store afresh (a kept worker's next run)."""

    def modules(self) -> dict[str, list[int]]:
        """The files this process imported or read, with their mtimes and sizes."""


class Zygote:
    """The worker's end: requests out, answers and ends in."""

    def __init__(self, pid: int, sock: Any) -> None:
        self.pid = pid
        self.sock = sock
        self.fd: int = sock.fileno()
        self._buffer = b""
        #: Messages read but not yet taken (see :meth:`messages`).
        self._queue: deque[dict[str, Any]] = deque()
        #: Whether the zygote is gone (its end of the socket closed).
        self.gone = False

    def send(self, message: dict[str, Any], fds: tuple[int, ...] = ()) -> None:
        """Send ``message``; its descriptors, if any, travel with its first byte."""
        data = (json.dumps(message, separators=(",", ":")) + "\n").encode()
        try:
            handoff.send(self.sock, data, fds)
        except OSError:  # gone: the caller finds out as it reads
            self.gone = True

    def read(self) -> None:
        """Read what the zygote sent (call when its socket is readable)."""
        try:
            data = self.sock.recv(handoff.CHUNK)
        except OSError:
            data = b""
        if not data:
            self.gone = True
            return
        self._buffer += data
        *lines, self._buffer = self._buffer.split(b"\n")
        self._queue.extend(json.loads(line) for line in lines if line.strip())

    def messages(self) -> list[dict[str, Any]]:
        """The messages read so far, taken."""
        taken = list(self._queue)
        self._queue.clear()
        return taken

    def end(self) -> None:
        """Close the zygote's socket, on which it lets its spare go, reaps its shepherds
        and exits, and reap it (killed if it has not exited within a few seconds)."""
        self.sock.close()
        if reap_within([self.pid], 2 * _END_WITHIN):
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)

    def wait_for(self, op: str) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        """Read until the answer ``op`` comes: it (None if the zygote is gone first) and
        the messages read before it, in order (ends of tasks, to be handled as usual)."""
        before: list[dict[str, Any]] = []
        while True:
            while self._queue:
                message = self._queue.popleft()
                if message["op"] == op:
                    return message, before
                before.append(message)
            if self.gone:
                return None, before
            with contextlib.suppress(InterruptedError):
                select.select([self.fd], [], [])
            self.read()


def start(worker: Forker) -> Zygote:
    """Fork the zygote of ``worker`` (which has imported the flow), and its end of the socket."""
    ours, theirs = handoff.socketpair()
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:
        try:
            ours.close()
            _serve(worker, theirs, parent)
        finally:
            os._exit(70)
    theirs.close()
    return Zygote(pid, ours)


def _serve(worker: Forker, sock: Any, parent: int) -> NoReturn:
    """In the zygote: fork what the worker asks for and report each end, until it is gone."""
    if die_with_parent() and os.getppid() != parent:
        os._exit(0)
    name = _name()
    name_process(NAME)  # its command line is the worker's: ps -o comm, top tell them apart
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)  # the run's requests are the worker's to read
    os.close(devnull)
    worker.become_zygote()  # so the worker's channel ends when the worker does
    _Loop(worker, sock, name).serve()


class _Spare:
    """A shepherd forked ahead of its task, waiting for it on its socket (see _Loop)."""

    def __init__(self, pid: int, sock: Any) -> None:
        self.pid = pid
        self.start = start_time(pid)  # read before it is reaped: the pid is still its own
        self.sock = sock


class _Loop:
    """The zygote's loop. It keeps one *spare*: a shepherd forked ahead of the next task,
    whose task process is forked too and waits for the task. A spare is let go (both exit)
    when the zygote's state changes under it: a step made ready (a configured class, the
    card renderers imported) or the store renewed."""

    def __init__(self, worker: Forker, sock: Any, name: str) -> None:
        self.worker = worker
        self.sock = sock
        self.fd: int = sock.fileno()
        #: The worker's process name, which shepherds and tasks take back.
        self.name = name
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_w, False)
        signal.set_wakeup_fd(self.wake_w)  # the worker's SIGCHLD handler stays: it wakes us
        self.buffer = b""
        #: Descriptors passed along with requests not yet handled, in order.
        self.passed: deque[int] = deque()
        self.spare: _Spare | None = None
        #: Whether to fork a spare when idle: not once one died waiting (a process limit
        #: reached, say) until the next task, which then waits for its fork.
        self.ahead = True
        #: The shepherds forked here and not yet reaped (spares included): the only
        #: children it reaps (a config mutator run here may start processes of its own).
        self.shepherds: set[int] = set()
        #: Spares let go: their ends are no task's, and not reported.
        self.dropped: set[int] = set()

    def serve(self) -> NoReturn:
        while True:
            if self.spare is None and self.ahead:
                try:
                    self.spare = self.fork_spare()
                except OSError:  # no process to be had now: the next task forks its own
                    self.ahead = False
            try:
                readable = select.select([self.fd, self.wake_r], [], [])[0]
            except InterruptedError:
                readable = []
            if self.wake_r in readable:  # a SIGCHLD: a shepherd, maybe more, ended
                os.read(self.wake_r, 512)
                self.report_ends()
            if self.fd in readable:
                self.read()

    def read(self) -> None:
        data, fds, cut = handoff.receive(self.sock, _MAX_FDS)
        if not data:  # the worker closed its end: it is exiting, its tasks all ended
            self.drop_spare()
            self.reap_all(within=_END_WITHIN)
            os._exit(0)
        if cut:
            raise RuntimeError("the worker passed more descriptors than one read takes")
        self.passed.extend(fds)
        self.buffer += data
        *lines, self.buffer = self.buffer.split(b"\n")
        for line in lines:
            if line.startswith(_RUN):
                self.run(line)
            elif line.strip():
                self.handle(json.loads(line))

    def run(self, line: bytes) -> None:
        """Hand the task (the worker's request, as it came) to the spare."""
        fds = (self.passed.popleft(), self.passed.popleft(), self.passed.popleft())
        spare, self.spare = self.spare, None
        self.ahead = True
        try:
            if spare is not None:
                try:
                    handoff.send(spare.sock, line + b"\n", fds)
                except OSError:  # it died waiting (killed): fork one now
                    self.dropped.add(spare.pid)  # its end is no task's
                    spare.sock.close()
                    spare = None
            if spare is None:
                spare = self.fork_spare(close=fds)
                handoff.send(spare.sock, line + b"\n", fds)
            spare.sock.close()
        finally:
            for fd in fds:
                os.close(fd)
        start = "null" if spare.start is None else spare.start
        _answer(self.sock, f'{{"op":"forked","pid":{spare.pid},"start":{start}}}')

    def handle(self, request: dict[str, Any]) -> None:
        op = request["op"]
        if op == "prepare":
            try:
                made = self.worker.prepare_task(request["spec"])
            except Exception:  # each task then makes ready for itself
                made = True
            if made:
                self.drop_spare()  # forked before the class or renderers were ready
        elif op == "renew":
            self.drop_spare()  # it holds the store as it was
            self.worker.renew_store()
        elif op == "modules":
            _answer(self.sock, json.dumps({"op": "modules", "files": self.worker.modules()}))

    def fork_spare(self, close: tuple[int, ...] = ()) -> _Spare:
        """Fork a shepherd to wait for the next task; it holds none of the zygote's
        descriptors, nor ``close``."""
        ours, theirs = handoff.socketpair()
        held = [self.fd, self.wake_r, self.wake_w, ours.fileno(), *self.passed, *close]
        try:
            pid = self.worker.fork_shepherd(held, lambda: _receive_task(theirs), self.name)
        finally:
            theirs.close()
        self.shepherds.add(pid)
        return _Spare(pid, ours)

    def drop_spare(self) -> None:
        """Let the spare go: its socket closed, it exits without a task."""
        if self.spare is not None:
            self.dropped.add(self.spare.pid)
            self.spare.sock.close()
            self.spare = None

    def reap_all(self, within: float) -> None:
        """Reap each shepherd as it exits, for up to ``within`` seconds: its time (its
        task's with it) then counts to the zygote, and the zygote's to the worker, which
        reaps it (see Zygote.end), as when the worker forked its tasks itself."""
        self.shepherds = reap_within(self.shepherds, within)

    def report_ends(self) -> None:
        """Reap every shepherd that exited and report its status. One killed by a third
        party takes what is left of its process group along (its pid names the group
        until reaped)."""
        for pid in list(self.shepherds):
            try:
                if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None:
                    continue
            except ChildProcessError:  # never, as only this loop reaps them
                self.shepherds.discard(pid)
                continue
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
            _, raw = os.waitpid(pid, 0)
            self.shepherds.discard(pid)
            if self.spare is not None and pid == self.spare.pid:  # it died waiting
                self.spare.sock.close()
                self.spare = None
                self.ahead = False  # no fork at once: a process limit would make a loop
            elif pid in self.dropped:
                self.dropped.discard(pid)
            else:
                status = os.waitstatus_to_exitcode(raw)
                _answer(self.sock, f'{{"op":"exit","pid":{pid},"status":{status}}}')


def _receive_task(sock: Any) -> TaskStart | None:
    """In a spare shepherd: wait for its task (a run request with the task's stdout,
    stderr and status descriptors); None if the zygote lets it go instead."""
    given = handoff.receive_line(sock, 3)
    sock.close()
    if given is None:
        return None
    request, (out_w, err_w, status_w) = given
    return TaskStart(request, out_w, err_w, status_w)


def _name() -> str:
    """This process's name (``/proc/self/comm``); "python" where it cannot be read."""
    try:
        with open("/proc/self/comm") as fh:
            return fh.read().strip()
    except OSError:
        return "python"


def _answer(sock: Any, line: str) -> None:
    """Send one JSON line: the zygote's ends and answers are written out by hand, which
    copies fewer of its pages after each fork than the json module would."""
    sock.sendall((line + "\n").encode())
