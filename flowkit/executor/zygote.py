"""The warm worker's *zygote*: a copy of the worker, forked once it has imported the flow,
that does the worker's forking for it.

Forking write-protects every page of the process that forks, and each page it writes next is
copied for it. The worker writes a great deal between two forks (it reads requests, relays
and stores the tasks' output, reports their ends): forking its tasks itself, it was copying
~380 pages a task, ~2 ms of system time on a VM where a copied page costs ~5 µs. The zygote
writes little between forks (it reads a request, forks the task's shepherd, answers), and the
worker, which no longer forks, copies nothing once it has written each page once.

The worker talks to its zygote over a socket pair, in JSON lines like the rest of the warm
worker: ``run`` (the task's key, spec and environment, with the write ends of its output pipes
passed along, ``SCM_RIGHTS``), ``renew`` and ``modules`` (see :mod:`.forkserver`); the zygote
answers ``forked`` (the shepherd's pid and start time, read before it can be reaped, so they
name it), ``modules``, and reports each shepherd's ``exit`` as it reaps it. The zygote dies
with the worker (``PR_SET_PDEATHSIG``); the worker treats the end of its zygote as its own
(see :meth:`flowkit.executor.forkserver.ForkServer.zygote_gone`).

It talks through ``_socket``, the C module under :mod:`socket`: the zygote needs a socket
pair and ``sendmsg``/``recvmsg``, not the ~3 ms of enums and helpers the worker would import.
"""

from __future__ import annotations

import _socket
import contextlib
import json
import os
import select
import signal
import struct
from collections import deque
from typing import Any, NoReturn, Protocol

from flowkit.executor.reaper import die_with_parent, name_process, start_time

#: What the zygote is called in ``/proc/PID/comm`` (``ps -o comm``, ``top``).
NAME = "flowkit-zygote"
_CHUNK = 65536
#: Descriptors one read may carry: two per ``run``, and a read may hold several requests.
_MAX_FDS = 64
_INT = struct.calcsize("i")


class Forker(Protocol):
    """What the zygote uses of the worker it was forked from (a ForkServer)."""

    def become_zygote(self) -> None:
        """Close what is the worker's alone (its news channel, its wakeup pipe)."""

    def fork_shepherd(
        self, spec: str, env: dict[str, str], out_w: int, err_w: int, close: list[int]
    ) -> int:
        """Fork the shepherd of the task ``spec`` (its JSON, read in the shepherd); its pid."""

    def prepare_task(self, spec_json: str) -> None:
        """Make ready what tasks like ``spec_json`` need before they are forked."""

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
        data = memoryview((json.dumps(message, separators=(",", ":")) + "\n").encode())
        ancillary = [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, struct.pack(f"{len(fds)}i", *fds))]
        try:
            sent = self.sock.sendmsg([data], ancillary if fds else [])
            while sent < len(data):  # a signal cut the write short: the rest, plainly
                data = data[sent:]
                sent = self.sock.sendmsg([data])
        except OSError:  # gone: the caller finds out as it reads
            self.gone = True

    def read(self) -> None:
        """Read what the zygote sent (call when its socket is readable)."""
        try:
            data = self.sock.recv(_CHUNK)
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

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


def start(worker: Forker) -> Zygote:
    """Fork the zygote of ``worker`` (which has imported the flow), and its end of the socket."""
    ours, theirs = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM)
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
    name_process(NAME)  # its command line is the worker's: ps -o comm, top tell them apart
    fd = sock.fileno()
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)  # the run's requests are the worker's to read
    os.close(devnull)
    worker.become_zygote()  # so the worker's channel ends when the worker does
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)  # the worker's SIGCHLD handler stays: it only wakes us
    buffer = b""
    passed: deque[int] = deque()
    while True:
        try:
            readable = select.select([fd, wake_r], [], [])[0]
        except InterruptedError:
            readable = []
        if wake_r in readable:  # a SIGCHLD: a shepherd, maybe more, ended
            os.read(wake_r, 512)
            _report_ends(sock)
        if fd not in readable:
            continue
        data, ancillary, flags, _ = sock.recvmsg(_CHUNK, _socket.CMSG_SPACE(_MAX_FDS * _INT))
        if not data:
            _report_ends(sock)
            os._exit(0)  # the worker closed its end: it is exiting, its tasks all ended
        if flags & _socket.MSG_CTRUNC:
            raise RuntimeError("the worker passed more descriptors than one read takes")
        for level, kind, payload in ancillary:
            if (level, kind) == (_socket.SOL_SOCKET, _socket.SCM_RIGHTS):
                count = len(payload) // _INT
                passed.extend(struct.unpack(f"{count}i", payload[: count * _INT]))
        buffer += data
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            if line.strip():
                _handle(worker, sock, json.loads(line), passed, [fd, wake_r, wake_w])


def _handle(
    worker: Forker, sock: Any, request: dict[str, Any], passed: deque[int], close: list[int]
) -> None:
    op = request["op"]
    if op == "run":
        out_w, err_w = passed.popleft(), passed.popleft()
        try:  # the shepherd holds no other task's pipes: they would not end with that task
            pid = worker.fork_shepherd(
                request["spec"], request["env"], out_w, err_w, [*close, *passed]
            )
        finally:
            os.close(out_w)
            os.close(err_w)
        start = start_time(pid)  # read before it is reaped: the pid is still its own
        _answer(sock, f'{{"op":"forked","pid":{pid},"start":{"null" if start is None else start}}}')
    elif op == "prepare":
        with contextlib.suppress(Exception):  # each task then makes ready for itself
            worker.prepare_task(request["spec"])
    elif op == "renew":
        worker.renew_store()
    elif op == "modules":
        _answer(sock, json.dumps({"op": "modules", "files": worker.modules()}))


def _report_ends(sock: Any) -> None:
    """Reap every shepherd that exited and report its status. One killed by a third party
    takes what is left of its process group along (its pid names the group until reaped)."""
    while True:
        try:
            info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return
        if info is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(info.si_pid, signal.SIGKILL)
        _, raw = os.waitpid(info.si_pid, 0)
        status = os.waitstatus_to_exitcode(raw)
        _answer(sock, f'{{"op":"exit","pid":{info.si_pid},"status":{status}}}')


def _answer(sock: Any, line: str) -> None:
    """Send one JSON line: the zygote's ends and answers are written out by hand, which
    copies fewer of its pages after each fork than the json module would."""
    sock.sendall((line + "\n").encode())
