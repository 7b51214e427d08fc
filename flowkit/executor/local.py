"""The local executor: a warm fork server per run, tasks forked from it in milliseconds.

A run's worker is kept, idle, for the next run of the same code in this process
(:mod:`flowkit.executor.warm`).

It counts this machine's CPUs and GPUs (:mod:`flowkit.executor.resources`): a submitted
task that does not fit yet waits here, and one that asks for more GPUs than the machine has
is refused by :meth:`LocalExecutor.check`. A task given GPUs sees only those, through
``CUDA_VISIBLE_DEVICES``.

If the warm worker dies (killed, out of memory), its tasks are lost: the executor kills what
is left of them (each task's shepherd leads its own session and, on Linux, holds every process
the task started below it), reports each as :class:`Lost`, and starts a fresh worker for the
next task. A lost task's pid is only signalled while it still names the process that started
then: once the worker is gone, init reaps the task and may hand its pid to anything.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import time
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from flowkit.errors import FlowkitError
from flowkit.executor import warm
from flowkit.executor.base import (
    ExecutorContext,
    Killed,
    Lost,
    Message,
    Output,
    Request,
    Started,
    Submission,
    ended,
)
from flowkit.executor.reaper import kill_tree
from flowkit.executor.resources import ResourcePool, visible_gpus
from flowkit.fastdata import asdict


class WorkerStartError(FlowkitError):
    """The warm worker could not import the flow."""


#: Seconds a worker kept from an earlier run has to answer before a fresh one is started.
_RENEW_TIMEOUT = 5.0


class LocalExecutor:
    """Runs tasks as children of a warm worker process on this machine."""

    def __init__(
        self,
        context: ExecutorContext,
        *,
        start_timeout: float = 60.0,
        pool: ResourcePool | None = None,
    ) -> None:
        self._hello = {
            "store": context.store.url,
            "code": asdict(context.code),
            "echo": context.echo,
        }
        self._start_timeout = start_timeout
        self._pool = pool or ResourcePool(float(os.cpu_count() or 1), visible_gpus())
        #: Tasks sent to the worker and not yet reported ended: key -> (pid, start time); the
        #: pid is 0 until it started, the start time None where the platform does not say.
        self._tasks: dict[str, tuple[int, int | None]] = {}
        #: Submitted tasks waiting for a worker slot (``--max-workers``) or their CPUs/GPUs,
        #: by key, in the order they came. Ordered, not a dict: a dict taken from its front
        #: (as slots free) is walked past every removed entry, quadratic over a big fan-out.
        self._waiting: OrderedDict[str, Submission] = OrderedDict()
        self._limit = context.max_workers or 0
        self._cancelled: set[str] = set()
        #: News made here rather than by the worker (a waiting task cancelled).
        self._news: list[Message] = []
        self._closed = False
        self._start()

    def _start(self) -> None:
        # A worker an earlier run here left with the same code, store and environment has
        # done the imports already (see flowkit.executor.warm); it is renewed (its store
        # opened afresh) and used if it answers in time. Else a fresh one does the imports.
        self._key = warm.worker_key(self._hello)
        parked = warm.take(self._key)
        if parked is not None and self._handshake(parked, {"op": "renew"}, _RENEW_TIMEOUT):
            return
        # A spare the run started as it began has imported flowkit's task modules meanwhile.
        fresh = warm.take_spare() or warm.spawn()
        if not self._handshake(fresh, self._hello, self._start_timeout):
            raise WorkerStartError(
                "the warm worker did not start",
                "see the output above; run 'python -m flowkit.executor.forkserver' to debug",
            )

    def _handshake(self, proc: warm.Worker, hello: dict[str, Any], timeout: float) -> bool:
        """Make ``proc`` this executor's worker once it answers ``hello`` ready; False (and
        it shut down) if it is gone or silent. Interrupted meanwhile (Ctrl-C while the flow
        imports), it is shut down too: a worker no executor holds would live on unused."""
        self._attach(proc)
        try:
            self._send(hello)
            return self._await_ready(timeout)
        except BrokenPipeError:
            warm.shutdown(proc)
            return False
        except WorkerStartError:
            raise  # the flow's import failed: it says why (the worker is shut down)
        except BaseException:
            warm.shutdown(proc, grace=0.0)
            raise

    def _attach(self, proc: warm.Worker) -> None:
        assert proc.stdin is not None and proc.stdout is not None
        self._proc = proc
        self._in = proc.stdin
        self._out = proc.stdout.fileno()
        self._buffer = b""
        self._pending: list[dict[str, Any]] = []
        self._eof = False

    def _send(self, message: dict[str, Any]) -> None:
        self._in.write((json.dumps(message, separators=(",", ":")) + "\n").encode())
        self._in.flush()

    def _await_ready(self, timeout: float) -> bool:
        """Whether the worker said it is ready within ``timeout`` (if not, it is shut down);
        :class:`WorkerStartError` if it could not load the flow."""
        deadline = time.monotonic() + timeout
        while True:
            for message in self._read(max(0.0, deadline - time.monotonic())):
                if message["op"] == "ready":
                    return True
                if message["op"] == "error":
                    warm.shutdown(self._proc)
                    raise WorkerStartError(
                        f"the worker could not load the flow: {message['type']}: "
                        f"{message['message']}\n{message['traceback']}".rstrip(),
                        "fix the error above; it happens when the flow's module is imported",
                    )
                self._pending.append(message)
            if time.monotonic() >= deadline or self._proc.poll() is not None:
                warm.shutdown(self._proc)
                return False

    def _read(self, timeout: float) -> list[dict[str, Any]]:
        readable, _, _ = select.select([self._out], [], [], timeout)
        if not readable:
            return []
        data = os.read(self._out, 1 << 16)
        if not data:
            self._eof = True
            return []
        self._buffer += data
        *lines, self._buffer = self._buffer.split(b"\n")
        return [json.loads(line) for line in lines if line.strip()]

    def check(self, request: Request) -> str | None:
        return self._pool.unsatisfiable(request.cpu, request.gpu)

    def submit(self, tasks: Sequence[Submission]) -> None:
        self._waiting.update((task.key, task) for task in tasks)
        self._start_waiting()

    def _start_waiting(self) -> None:
        """Send the worker waiting tasks, in order, while a slot is free: each whose CPUs and
        GPUs are free (one that must wait does not hold up a later one that fits)."""
        started: list[str] = []
        for key, task in self._waiting.items():
            if self._limit and len(self._tasks) >= self._limit:
                break
            env = self._pool.try_take(key, task.request.cpu, task.request.gpu)
            if env is not None:
                self._run(task, env)
                started.append(key)
        for key in started:
            del self._waiting[key]

    def _run(self, task: Submission, env: dict[str, str]) -> None:
        if self._eof or not self.alive:
            self._news += self._worker_gone()  # reported at the next poll
            self._restart()
        self._tasks[task.key] = (0, None)
        try:
            self._send({"op": "run", "key": task.key, "spec": task.spec.to_json(), "env": env})
        except BrokenPipeError:
            self._eof = True  # the worker died; the next poll reports the task lost

    def poll(self, timeout: float) -> list[Message]:
        # Slots freed by tasks reported ended are filled here, on the next poll, not as the
        # ends are read: the scheduler hears of an end first, and may stop launching (a
        # failure under --fail-fast) and withdraw what waits.
        self._start_waiting()
        raw, self._pending = self._pending, []
        out, self._news = self._news, []
        raw += self._read(0.0 if raw or out else timeout)
        for message in raw:
            op = message["op"]
            if op == "started":
                self._tasks[message["key"]] = (message["pid"], message.get("start"))
                out.append(Started(message["key"]))
            elif op == "log":
                out.append(Output(message["key"], message["stream"], tuple(message["lines"])))
            elif op == "exit":
                out.append(self._ended(message["key"], message["status"]))
        if self._eof:
            out += self._worker_gone()
        return out

    def _ended(self, key: str, status: int) -> Message:
        self._tasks.pop(key, None)
        self._pool.release(key)
        if key in self._cancelled:
            self._cancelled.discard(key)
            return Killed(key, status)
        return ended(key, status)

    def _lost(self) -> list[Message]:
        """The worker is gone: kill its orphaned tasks and report them lost."""
        for pid, start in self._tasks.values():
            if pid > 0:
                _kill_task(pid, start)
        lost: list[Message] = [Lost(key) for key in self._tasks]
        self._tasks.clear()
        return lost

    def _worker_gone(self) -> list[Message]:
        lost = self._lost()
        for message in lost:
            self._pool.release(message.key)
            self._cancelled.discard(message.key)
        return lost

    def _restart(self) -> None:
        warm.shutdown(self._proc)
        self._start()

    @property
    def alive(self) -> bool:
        return self._proc.poll() is None

    def cancel(self, key: str) -> None:
        if self._waiting.pop(key, None) is not None:
            self._news.append(Killed(key))
            return
        if key not in self._tasks:
            return  # it already ended (its end is reported, or about to be)
        self._cancelled.add(key)
        try:
            self._send({"op": "cancel", "key": key})
        except BrokenPipeError:
            self._eof = True

    def close(self) -> None:
        """Keep the worker for a later run here if it is idle and healthy (and this process
        parks workers, see :func:`warm.parking`), else shut it down."""
        if self._closed:
            return
        self._closed = True
        idle = warm.parks() and not (self._tasks or self._waiting or self._pending or self._buffer)
        try:
            files = self._loaded_files() if idle and not self._eof and self.alive else None
        except BaseException:  # interrupted while it asked (Ctrl-C): kept by no one
            warm.shutdown(self._proc)
            raise
        if files is not None:
            warm.keep(self._key, self._proc, files)
        else:
            warm.shutdown(self._proc)

    def _loaded_files(self) -> dict[str, list[int]] | None:
        """The files of the modules the idle worker imported (see :func:`warm.take`), or
        None if it does not say within a few seconds."""
        try:
            self._send({"op": "modules"})
        except BrokenPipeError:
            return None
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline and not self._eof:
            for message in self._read(max(0.0, deadline - time.monotonic())):
                if message["op"] == "modules":
                    return dict(message["files"])
                return None  # news of no task: it is not idle after all
        return None

    def shutdown(self) -> None:
        """Close, shutting the worker down (it is not kept for a later run)."""
        if not self._closed:
            self._closed = True
            warm.shutdown(self._proc)


def _kill_task(pid: int, start: int | None) -> None:
    """Kill an orphaned task's shepherd and everything below it, if ``pid`` is still the
    process that started at ``start``; where start times are not known, if it still leads a
    session and process group of its own (as a shepherd does)."""
    if start is not None:
        kill_tree(pid, start=start)
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if os.getsid(pid) == pid:
            kill_tree(pid)
            os.killpg(pid, signal.SIGKILL)
