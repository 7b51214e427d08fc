"""The warm worker: imports flowkit and the flow once, then forks one process per task.

Run as ``python -m flowkit.executor.forkserver`` (:func:`flowkit.executor.warm.spawn`), often
as a run begins: it imports what tasks need before it reads its hello, the first line of its
stdin, which names the flow's code. It talks JSON lines: requests on stdin, news on its
original stdout (the flow's own prints are sent to stderr so they can never garble the
channel). Once it has imported the flow it forks its *zygote* (:mod:`.zygote`), a copy of
itself that does its forking, so that its own pages are not write-protected at each fork.
For each task the zygote forks a *shepherd*, which leads a session of its own, forks the
task's process, and runs no user code: it reaps every child it gets (the task, and on Linux
whatever the task orphaned, see :mod:`flowkit.executor.reaper`) and, once the task has
ended, kills what is left below it and exits as the task did. Cancelling a task kills the
shepherd's whole tree. The task's stdout/stderr are piped back here, where the lines are
timestamped into the store's log and echoed to the scheduler. When stdin closes or the news
cannot be sent (the scheduler is gone), every task still running is killed and the worker
exits quietly.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import select
import signal
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn

from flowkit.executor import handoff
from flowkit.executor.reaper import (
    become_subreaper,
    children_of,
    die_with_parent,
    kill_tree,
    name_process,
    no_core_dump,
    start_time,
)
from flowkit.exits import leave
from flowkit.fastdata import dataclass, field
from flowkit.task.outcome import describe_status

if TYPE_CHECKING:
    from flowkit.executor.zygote import Zygote

_CHUNK = 65536
#: Seconds a task's log end mark may wait for the worker to be idle (see ForkServer.finish).
_MARK_WITHIN = 0.5
#: Seconds a shepherd has, once all below it was killed, to reap it and exit on its own.
_SHEPHERD_GRACE = 2.0
#: Signals a shepherd blocks (SIGINT it ignores already, as this worker does): one the
#: task's code sends its own process group (a polite SIGTERM, say) reaches the shepherd too,
#: which must outlive the task to clean up after it. The task unblocks them.
_SHEPHERD_BLOCKS = (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)


@dataclass
class TaskStart:
    """What a shepherd is given to start its task with."""

    #: A JSON object: the task's ``spec`` (as JSON) and ``env``. Passed on to the task as it
    #: is, and read there: each page the zygote or the shepherd writes after a fork is copied
    #: for it, and reading a spec in the zygote copied ~120 of its pages a task.
    request: bytes
    #: The task's stdout and stderr.
    out_w: int
    err_w: int
    #: Where the shepherd writes the task's exit status once all below it is dead, before
    #: it exits itself (see :meth:`ForkServer.read_status`); None: it exits and is reaped.
    status_w: int | None


@dataclass
class _Child:
    key: str
    pid: int
    fds: dict[int, str]
    #: The task's spec: whose log the writers write (its end is marked once they flushed).
    spec: Any = None
    #: A log writer per stream the task wrote to, made on its first output (most tiny
    #: tasks print nothing: making writers for them was a tenth of a fork's cost).
    writers: dict[str, Any] = field(default_factory=dict)
    partial: dict[str, bytes] = field(default_factory=lambda: {"stdout": b"", "stderr": b""})
    status: int | None = None
    #: When the shepherd started (see :func:`~flowkit.executor.reaper.start_time`): with
    #: its pid, it names the shepherd even once another process (the zygote) reaped it.
    start: int | None = None
    #: Where its shepherd writes the task's exit status once all below it is dead, before
    #: it exits itself (see :meth:`ForkServer.read_status`); None: from its exit, when reaped.
    status_fd: int | None = None
    #: Whether the task was cancelled (all below its shepherd killed).
    killed: bool = False
    #: When its shepherd, if still there, is killed too (monotonic clock).
    kill_by: float | None = None


class ForkServer:
    """Forks tasks and relays their output; ``send`` receives each piece of news."""

    def __init__(self, out_fd: int, relay: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.out_fd = out_fd
        self.relay = relay
        self.children: dict[int, _Child] = {}
        self.by_fd: dict[int, _Child] = {}
        self.inbuf = b""
        #: The scheduler stopped reading: nothing more is sent, and the worker winds up.
        self.scheduler_gone = False
        #: Tasks that ended, reported, whose log end marks are still to be written: they are
        #: written when nothing else waits (see :meth:`finish`).
        self.unmarked: list[Any] = []
        #: When the oldest of them ended (monotonic clock): a busy worker writes them anyway
        #: once it is ``_MARK_WITHIN`` old, so a follower of that log is not kept waiting.
        self.unmarked_since = 0.0
        #: Whether what rendering a card takes is imported (for the first task with a card).
        self.renders_cards = False
        #: The running tasks by the descriptor their shepherds write their status to.
        self.by_status: dict[int, _Child] = {}
        #: The zygote that forks the tasks (see :meth:`start_zygote`); None: forked here.
        self.zygote: Zygote | None = None
        #: The steps (with their run's configs) the zygote made ready for (:meth:`prepare`).
        self.prepared: set[tuple[Any, str]] = set()
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_w, False)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.set_wakeup_fd(self.wake_w)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the scheduler decides what to cancel

    def send(self, message: dict[str, Any]) -> None:
        if self.relay is not None:
            self.relay(message)
            return
        if self.scheduler_gone:
            return
        data = (json.dumps(message, separators=(",", ":")) + "\n").encode()
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self.out_fd, view) :]
        except BrokenPipeError:
            self.scheduler_gone = True

    def setup(self, hello: dict[str, Any]) -> None:
        from flowkit.store import open_store
        from flowkit.task.code import load_flow_class
        from flowkit.task.spec import CodeRef

        code = hello["code"]
        watch_reads()  # what the flow's import reads, a worker kept depends on
        self.store_url = str(hello["store"])
        self.store = open_store(self.store_url)
        self.echo = bool(hello.get("echo", True))
        self.flow_cls = load_flow_class(CodeRef.from_json(code), self.store)
        self.config_attrs = _config_attrs(self.flow_cls)
        #: The flow class configured for each run's configs (by their digests) seen so far.
        self.configured: dict[tuple[tuple[str, str], ...], type] = {}
        _preload_task_modules()  # done already, before the hello, unless that failed
        # Objects alive now are shared with every task; freezing them keeps the collector
        # from walking, and so copying, those pages in each child. Not collected first: the
        # imports leave no garbage to free (a full collection found none), and it held the
        # worker's "ready" back by 15-60 ms (more with pandas imported).
        gc.freeze()

    def task_class(self, spec: Any) -> type:
        """The class ``spec``'s task runs: the flow configured with its run's configs (its
        mutators run, its config expressions evaluated), made here once per run's configs and
        inherited by every task forked after, as the run's scheduler made it (same configs).
        If making it fails, each task makes its own and records the failure as its own."""
        key = self.configs_of(spec)
        if key is None:
            return self.flow_cls
        if key not in self.configured:
            from flowkit.authoring.configure import configure_from
            from flowkit.task.execute import StoredParameters

            try:
                params = StoredParameters(self.store, spec.parameters)
                self.configured[key] = configure_from(self.flow_cls, params)
            except Exception:  # a user's mutator: the tasks report it, each in its record
                self.configured[key] = self.flow_cls
        return self.configured[key]

    def configs_of(self, spec: Any) -> tuple[tuple[str, str], ...] | None:
        """The values of the configs ``spec``'s run was given; None for a flow without."""
        if self.config_attrs is None:
            return None
        params = spec.parameters
        return tuple((a, str(params[a][0])) for a in self.config_attrs if a in params)

    def prepare(self, spec: Any) -> type:
        """Make ready, here, what tasks like ``spec`` need before they are forked: the flow
        class configured with their run's configs, the card renderers if they have a card."""
        flow_cls = self.task_class(spec)
        if not self.renders_cards:
            self._load_renderers(spec, flow_cls)
        return flow_cls

    def serve(self) -> None:
        """Take requests from stdin and relay the tasks' news until stdin closes."""
        while True:
            readable = self.pump([0])
            if self.scheduler_gone or (0 in readable and not self.read_requests()):
                self.kill_all()
                if self.zygote is not None:
                    self.zygote.end()
                return

    def wait_all(self) -> None:
        """Relay output until every task forked so far has ended."""
        while self.children:
            self.pump([], timeout=0.5)
        self.mark_ended()

    def pump(self, extra: list[int], timeout: float | None = None) -> list[int]:
        """Wait for output, a child's exit or one of ``extra``; relay output, reap exits.
        The ``extra`` descriptors that are readable are left for the caller."""
        deadlines = [c.kill_by for c in self.children.values() if c.kill_by is not None]
        if deadlines:
            left = max(0.0, min(deadlines) - time.monotonic())
            timeout = left if timeout is None else min(timeout, left)
        # output a task printed before going quiet is in the store within a flush interval
        dues = [d for w in self._writers() if (d := w.due()) is not None]
        if dues:
            timeout = min(dues) if timeout is None else min(timeout, min(dues))
        zygote = self.zygote
        fds = [*extra, self.wake_r, *self.by_fd, *self.by_status]
        if zygote is not None:
            fds.append(zygote.fd)
        readable = _select(fds, 0.0 if self.unmarked else timeout)
        overdue = self.unmarked and time.monotonic() - self.unmarked_since > _MARK_WITHIN
        if self.unmarked and (overdue or not readable):  # idle, or kept busy: see finish
            self.mark_ended()
            if not readable:
                readable = _select(fds, timeout)
        if self.wake_r in readable:
            os.read(self.wake_r, 512)
        for fd in readable:
            if fd in self.by_fd:
                self.read_output(fd)
        for fd in readable:
            if fd in self.by_status:
                self.read_status(fd)
        for writer in self._writers():
            writer.flush_if_due()
        if zygote is None:
            self.reap()
        else:
            if zygote.fd in readable:
                zygote.read()
            self.zygote_news(zygote.messages())
            if zygote.gone:
                self.zygote_gone()
        if deadlines:
            now = time.monotonic()
            for child in self.children.values():
                if child.kill_by is not None and child.kill_by <= now:
                    child.kill_by = None
                    _kill(child.pid, child.start)
        return [fd for fd in readable if fd in extra]

    def _writers(self) -> list[Any]:
        return [w for child in self.children.values() for w in child.writers.values()]

    def read_requests(self) -> bool:
        data = os.read(0, _CHUNK)
        if not data:
            return False
        self.inbuf += data
        *lines, self.inbuf = self.inbuf.split(b"\n")
        for line in lines:
            if not line.strip():
                continue
            request = json.loads(line)
            op = request["op"]
            if op == "run":
                self.fork(request["key"], request["spec"], request.get("env", {}))
            elif op == "cancel":
                self.kill(request["key"])
            elif op == "shutdown":
                self.kill_all()
                return False
            elif op == "modules":  # the run is over: its logs end before the answer
                self.mark_ended()
                self.send({"op": "modules", "files": self.modules()})
            elif op == "renew":
                self.renew()
        return True

    def renew(self) -> None:
        """Ready a worker kept from an earlier run for the next: its store opened afresh,
        so no digest it saw stored then (a gc since may have swept it) is taken for stored
        by a task forked now; a record names only blobs that are there."""
        self.renew_store()
        if self.zygote is not None:
            self.zygote.send({"op": "renew"})  # before any task of the next run: in order
        self.send({"op": "ready", "pid": os.getpid()})

    def fork(self, key: str, spec_json: str, env: dict[str, str]) -> None:
        """Start the task ``spec_json`` below a shepherd of its own, forked by the zygote
        (or here, by a worker that has none) and tell the scheduler it started."""
        from flowkit.task.spec import TaskSpec

        spec = TaskSpec.from_json(spec_json)
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        zygote = self.zygote
        status_r = None
        if zygote is None:
            close = [out_r, err_r, self.out_fd, self.wake_r, self.wake_w, *self.by_fd]
            self.prepare(spec)
            request = json.dumps({"spec": spec_json, "env": env}).encode()
            given = TaskStart(request, out_w, err_w, None)
            try:
                pid = self.fork_shepherd(close, lambda: given)
            finally:
                os.close(out_w)
                os.close(err_w)
            start = start_time(pid)  # read before it is reaped: the pid is still its own
        else:
            status_r, status_w = os.pipe()
            prepared = (self.configs_of(spec), spec.step)
            if prepared not in self.prepared:  # once per step and run's configs
                self.prepared.add(prepared)
                zygote.send({"op": "prepare", "spec": spec_json})
            zygote.send({"op": "run", "spec": spec_json, "env": env}, (out_w, err_w, status_w))
            for fd in (out_w, err_w, status_w):
                os.close(fd)
            answer, before = zygote.wait_for("forked")
            self.zygote_news(before)
            if answer is None:
                self.zygote_gone()
            pid, start = int(answer["pid"]), answer["start"]
        child = _Child(key, pid, {out_r: "stdout", err_r: "stderr"}, spec, start=start)
        self.children[pid] = child
        self.by_fd[out_r] = child
        self.by_fd[err_r] = child
        if status_r is not None:
            child.status_fd = status_r
            self.by_status[status_r] = child
        self.send({"op": "started", "key": key, "pid": pid, "start": start})
        if zygote is not None:
            self.zygote_news(zygote.messages())  # ends it sent after its answer

    def prepare_task(self, spec_json: str) -> bool:
        """In the zygote: :meth:`prepare` for tasks like ``spec_json``; whether that made
        anything (a configured class, the card renderers imported)."""
        from flowkit.task.spec import TaskSpec

        before = (len(self.configured), self.renders_cards)
        self.prepare(TaskSpec.from_json(spec_json))
        return (len(self.configured), self.renders_cards) != before

    def fork_shepherd(
        self, close: list[int], task: Callable[[], TaskStart | None], name: str | None = None
    ) -> int:
        """Fork a task's shepherd, which holds none of the descriptors in ``close``, takes
        the process name ``name`` (the zygote's children, the worker's) and forks the task's
        process at once; its pid. The shepherd then gets the task from
        ``task()`` (given here; or, in a shepherd the zygote forks ahead of its task, as it
        comes: None if it never does, see :mod:`.zygote`) and hands it to the process, so
        that a task forked ahead waits for no fork."""
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the shepherd
            status = 70
            try:
                os.setsid()  # its process group and session hold the task's
                signal.set_wakeup_fd(-1)
                devnull = os.open(os.devnull, os.O_RDONLY)
                os.dup2(devnull, 0)
                for fd in (devnull, *close):
                    os.close(fd)
                # One mask, not a handler per signal: a shepherd is a copy of this worker
                # that runs only to wait, and each page it writes is copied for it (setting
                # handlers through the signal module's enums was ~45 of ~500 such copies).
                signal.pthread_sigmask(signal.SIG_BLOCK, _SHEPHERD_BLOCKS)
                become_subreaper()  # what the task starts stays below the shepherd
                if name is not None:
                    name_process(name)
                ours, theirs = handoff.socketpair()
                shepherd = os.getpid()
                child = os.fork()
                if child == 0:
                    ours.close()
                    self._run_task(theirs, shepherd)
                theirs.close()
                start = task()
                if start is None:  # let go: the waiting task process sees the end, and exits
                    ours.close()
                    os.waitpid(child, 0)
                    os._exit(0)
                with contextlib.suppress(OSError):  # the task killed waiting: see below
                    handoff.send(ours, start.request + b"\n", (start.out_w, start.err_w))
                for fd in (start.out_w, start.err_w):
                    os.close(fd)
                ours.close()
                _shepherd(child, start.status_w)
            finally:
                os._exit(status)
        return pid

    def start_zygote(self) -> None:
        """Fork the zygote (see :mod:`flowkit.executor.zygote`), which forks the tasks from
        now on; where it cannot be forked (a process limit), this worker forks them itself."""
        from flowkit.executor import zygote

        with contextlib.suppress(OSError):
            self.zygote = zygote.start(self)

    def become_zygote(self) -> None:
        """In the zygote, as it starts: hold nothing that is this worker's alone, and note
        the files read here (a config mutator's) as the worker notes its own."""
        for fd in (self.out_fd, self.wake_r, self.wake_w, *self.by_fd):
            os.close(fd)
        _WORKER[0] = os.getpid()

    def renew_store(self) -> None:
        from flowkit.store import open_store

        self.store = open_store(self.store_url)

    def modules(self) -> dict[str, list[int]]:
        """The files imported or read here and, with a zygote, there (see :func:`loaded_files`)."""
        files = loaded_files()
        if self.zygote is not None:
            self.zygote.send({"op": "modules"})
            answer, before = self.zygote.wait_for("modules")
            self.zygote_news(before)
            if answer is None:
                self.zygote_gone()
            files.update(answer["files"])
        return files

    def zygote_news(self, messages: list[dict[str, Any]]) -> None:
        """Handle what the zygote reported: the ends of shepherds."""
        for message in messages:
            if message["op"] == "exit":  # unless its shepherd said so already
                child = self.children.pop(int(message["pid"]), None)
                if child is not None:
                    self.finish(child, int(message["status"]))

    def zygote_gone(self) -> NoReturn:
        """The zygote died (killed, out of memory), and the tasks' ends with it: this worker
        is as good as dead. Kill what is left of its tasks and exit; the run's executor
        reports them lost, as for a worker that died, and starts a fresh worker."""
        for child in self.children.values():
            _kill(child.pid, child.start)
        with contextlib.suppress(OSError, ValueError):
            sys.stderr.write("flowkit: the warm worker's zygote died; its tasks are lost\n")
            sys.stderr.flush()
        os._exit(70)

    def _load_renderers(self, spec: Any, flow_cls: type) -> None:
        """Before the first task with a card: what rendering it takes, imported here once,
        not in each such task after its step. Tried once; should it fail, each task imports
        it itself, where a card that cannot render never fails its task."""
        from flowkit.task.cards import cards_of, load_renderers

        try:
            if not cards_of(spec, flow_cls):
                return
            self.renders_cards = True
            load_renderers()
        except Exception:  # the task tries again, and reports what it finds
            pass

    def _run_task(self, sock: Any, shepherd: int) -> NoReturn:
        """In the task's process, below its shepherd: wait for the task on ``sock`` (its
        request, stdout and stderr), run the user's code, exit with its status."""
        status = 70
        spec: Any = None
        try:
            # A shepherd killed by someone else (not flowkit) takes its task with it.
            if die_with_parent() and os.getppid() != shepherd:
                os._exit(status)
            given = handoff.receive_line(sock, 2)
            if given is None:  # the shepherd was let go without a task
                os._exit(0)
            sock.close()
            line, (out_w, err_w) = given
            os.dup2(out_w, 1)
            os.dup2(err_w, 2)
            os.close(out_w)
            os.close(err_w)
            request = json.loads(line)
            if request["env"]:
                os.environ.update(request["env"])
            from flowkit.task.spec import TaskSpec

            spec = TaskSpec.from_json(request["spec"])
            flow_cls = self.task_class(spec)  # made ready before the fork (see prepare)
            for sig in (signal.SIGCHLD, signal.SIGINT):
                signal.signal(sig, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, _SHEPHERD_BLOCKS)
            sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
            sys.stderr.reconfigure(line_buffering=True)  # type: ignore[union-attr]
            from flowkit.task.execute import run_task

            status = run_task(spec, self.store, flow_cls)
        except BaseException:
            status = 70
            import traceback  # here: a task that runs its step never needs it

            # a failure in flowkit's own code: never silent (the task's stderr is its log)
            name = "" if spec is None else f" {spec.pathspec}"
            sys.stderr.write(
                f"flowkit: task{name} could not be finished (exit status 70): "
                f"flowkit's own code failed around its step:\n{traceback.format_exc()}"
            )
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(status)

    def read_output(self, fd: int) -> bool:
        child = self.by_fd[fd]
        stream = child.fds[fd]
        try:
            data = os.read(fd, _CHUNK)
        except OSError:
            data = b""
        if not data:
            del self.by_fd[fd]
            os.close(fd)
            return False
        self._writer(child, stream).write(data)
        text = child.partial[stream] + data
        *lines, child.partial[stream] = text.split(b"\n")
        if lines and self.echo:
            decoded = [line.decode(errors="replace") for line in lines]
            self.send({"op": "log", "key": child.key, "stream": stream, "lines": decoded})
        return True

    def reap(self) -> None:
        """Reap the shepherds that exited (only those: a pool the flow's module started here
        waits for its own processes)."""
        for pid in list(self.children):
            status = _reap(pid, os.WNOHANG)
            if status is not None:
                self.finish(self.children.pop(pid), status)

    def read_status(self, fd: int) -> None:
        """The task's exit status, which its shepherd writes once all below it is dead and
        before it exits: the task ends here now, not once the zygote has reaped the shepherd
        (a shepherd's exit, which unmaps a copy of the whole worker, took ~2-4 ms). A
        shepherd killed before it could write says nothing: the zygote reports its end."""
        child = self.by_status[fd]
        try:
            data = os.read(fd, 64)
        except OSError:
            data = b""
        if not data.endswith(b"\n"):  # it died first; or, never in practice, a torn write
            self._close_status(child)
            return
        if self.children.pop(child.pid, None) is child:
            self.finish(child, int(data))

    def _close_status(self, child: _Child) -> None:
        if child.status_fd is not None:
            del self.by_status[child.status_fd]
            os.close(child.status_fd)
            child.status_fd = None

    def finish(self, child: _Child, status: int) -> None:
        self._close_status(child)
        # Take what the task printed last; a grandchild holding the pipe open cannot stall us.
        for fd in [fd for fd, c in self.by_fd.items() if c is child]:
            os.set_blocking(fd, False)
            try:
                while self.read_output(fd):
                    pass
            except BlockingIOError:
                del self.by_fd[fd]
                os.close(fd)
        # a task that died of a signal cannot say so itself: its log says it for it
        note = describe_status(status) if status < 0 and not child.killed else None
        for stream, partial in child.partial.items():
            if partial and self.echo:
                text = partial.decode(errors="replace")
                self.send({"op": "log", "key": child.key, "stream": stream, "lines": [text]})
            if note is not None and stream == "stderr":
                line = b"\n" * bool(partial) + note.encode() + b"\n"
                self._writer(child, stream).write(line)
                if self.echo:
                    self.send({"op": "log", "key": child.key, "stream": stream, "lines": [note]})
        for writer in child.writers.values():
            writer.flush()
        # The output is stored: the scheduler may go on (and end the run, which ends every
        # log of it for its readers too). The end mark, a file of its own, is written once
        # this worker is idle, off the path from this task's end to the next task's start.
        self.send({"op": "exit", "key": child.key, "status": status})
        if not self.unmarked:
            self.unmarked_since = time.monotonic()
        self.unmarked.append(child.spec)

    def mark_ended(self) -> None:
        """Write the log end marks of the tasks that ended since the last time."""
        while self.unmarked:
            self.store.logs.end(self.unmarked.pop(0))

    def _writer(self, child: _Child, stream: str) -> Any:
        writer = child.writers.get(stream)
        if writer is None:
            writer = child.writers[stream] = self.store.logs.writers(child.spec, (stream,))[stream]
        return writer

    def kill(self, key: str) -> None:
        for child in self.children.values():
            if child.key == key and not child.killed:
                self.kill_task(child)

    def kill_task(self, child: _Child) -> None:
        """Kill all below the task's shepherd, which then reaps it and exits as its task did:
        killed. (Killed itself, it would leave those zombies to init, which in a container
        may be a process that never reaps.) A shepherd still there after a grace is killed."""
        kill_tree(child.pid, start=child.start, spare_root=True)
        child.killed = True
        child.kill_by = time.monotonic() + _SHEPHERD_GRACE

    def kill_all(self) -> None:
        for child in list(self.children.values()):
            if not child.killed:
                self.kill_task(child)
        while self.children:
            self.pump([], timeout=0.5)
        self.mark_ended()


def _select(fds: list[int], timeout: float | None) -> list[int]:
    """The readable ones of ``fds`` (none when a signal interrupts the wait)."""
    try:
        return select.select(fds, [], [], timeout)[0]
    except InterruptedError:
        return []


def _preload_task_modules() -> None:
    """Import, once and before any fork, what tasks would otherwise import each time.

    Not cloudpickle (logging, platform, uuid: ~10 ms): a task needs it only for a value
    plain pickle cannot save (a lambda, a class of ``__main__``), and the flow's own classes
    are not ``__main__``'s here, where its file is imported under its own name; a flow that
    travels by value (a notebook's) imports it as :meth:`ForkServer.setup` loads the class.
    """
    from flowkit.executor.reaper import load_libc

    load_libc()  # each shepherd and task sets process options with it
    import flowkit.authoring.configure
    import flowkit.authoring.join
    import flowkit.authoring.mutable
    import flowkit.store
    import flowkit.task.code
    import flowkit.task.execute  # noqa: F401


def _preload_installed(given: list[str]) -> None:
    """Import the installed packages the command line named (``NAME=FILE`` each, see
    :func:`flowkit.executor.warm.installed_imports`): the flow's own imports, done before its
    hello. Only where this process finds a package in the very file the command line
    imported it from; one that fails to import here fails again as the flow is imported,
    which reports it."""
    import warnings
    from importlib.util import find_spec

    # Quiet: the flow file may set warning filters before its imports, which have not run
    # here yet; the command line's import of the same packages has shown what they say.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for item in given:
            name, _, path = item.partition("=")
            with contextlib.suppress(Exception):
                found = find_spec(name)
                if found is not None and found.origin == path:
                    __import__(name)


#: Files opened for reading in this worker (not in its tasks) by their absolute paths: what
#: the flow's module read as it was imported (a settings file, a table loaded at module level).
#: A forked task's reads are not (its process is not the worker's).
_read_here: dict[str, None] = {}
#: The worker's process id, once it set up.
_WORKER = [0]


def watch_reads() -> None:
    """Note, from now on, the files this worker opens for reading (:func:`loaded_files`);
    once per process."""
    if _WORKER[0] != os.getpid():
        if not _WORKER[0]:
            sys.addaudithook(_note_read)
        _WORKER[0] = os.getpid()


def _note_read(event: str, args: tuple[Any, ...]) -> None:
    """Audit hook: note a file opened read-only in the worker's own process."""
    if event != "open" or os.getpid() != _WORKER[0]:
        return
    path, mode, flags = args
    if isinstance(path, str) and (
        (isinstance(mode, str) and "r" in mode and "+" not in mode)
        or (mode is None and isinstance(flags, int) and flags & os.O_ACCMODE == os.O_RDONLY)
    ):
        _read_here[os.path.abspath(path)] = None


def loaded_files() -> dict[str, list[int]]:
    """The file of every module imported here and every file read here, with its
    modification time and size: a worker kept for a later run is used only while none of
    them changed (a module edited on disk, a package upgraded, a settings file the flow's
    module read as it was imported edited)."""
    files: dict[str, list[int]] = {}
    paths = [getattr(module, "__file__", None) for module in list(sys.modules.values())]
    for path in [*paths, *list(_read_here)]:
        if isinstance(path, str) and path not in files:
            with contextlib.suppress(OSError):
                stat = os.stat(path)
                files[path] = [stat.st_mtime_ns, stat.st_size]
    return files


def _config_attrs(flow_cls: type) -> tuple[str, ...] | None:
    """The attributes of the flow's configs, whose values its tasks' class is configured
    with; None when nothing in the class waits for configs (it runs as it is)."""
    from flowkit.authoring.config import configs_of
    from flowkit.authoring.configure import needs_configs

    if not needs_configs(flow_cls):
        return None
    return tuple(str(c.attr) for c in configs_of(flow_cls))


def _kill(pid: int, start: int | None) -> None:
    """Kill a shepherd and all still below it, if ``pid`` is still the process that started
    at ``start`` (a zygote may have reaped it since); what is left of its process group too,
    unless ``pid`` now names another process (which may lead a group of that id: a spare
    shepherd forked since). While any of the old group lives, its id is no new process's."""
    kill_tree(pid, start=start)
    now = start_time(pid)
    if start is not None and now is not None and now != start:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def _reap(pid: int, options: int) -> int | None:
    """Reap the shepherd ``pid`` if it exited (or wait for it, without ``WNOHANG``); its exit
    status as :func:`os.waitstatus_to_exitcode` gives it, or None while it runs."""
    waitid = getattr(os, "waitid", None)
    try:
        if waitid is not None:
            if waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT | options) is None:
                return None
            # Dead but not reaped, its pid still names its process group: if a third party
            # killed it, what is left of the group (the task, say) goes with it.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
        got, raw = os.waitpid(pid, options)
    except ChildProcessError:
        return -signal.SIGKILL  # reaped by someone else: its status is lost
    return None if got == 0 else os.waitstatus_to_exitcode(raw)


def _shepherd(task: int, status_w: int | None) -> NoReturn:
    """Reap every child until ``task`` exits, kill and reap what is left, write its exit
    status to ``status_w`` (if given), exit as it did."""
    raw = None
    while raw is None:
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:  # not while the task lives; just in case
            break
        if pid == task:
            raw = status
    me = os.getpid()
    spared: set[int] = set()  # not ours to kill (another user's): left, not waited for
    while leftovers := [pid for pid in children_of(me) if pid not in spared]:
        for pid in leftovers:
            if not kill_tree(pid):
                spared.add(pid)
        for pid in leftovers:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG if pid in spared else 0)
    code = 70 if raw is None else os.waitstatus_to_exitcode(raw)
    if status_w is not None:
        with contextlib.suppress(OSError):
            os.write(status_w, b"%d\n" % code)
    if code < 0:  # killed by a signal: die by the same one, without a core file
        sig = -code
        if sig not in (signal.SIGKILL, signal.SIGSTOP):
            with contextlib.suppress(OSError, ValueError):
                signal.signal(sig, signal.SIG_DFL)
        no_core_dump()
        with contextlib.suppress(OSError, ValueError):
            signal.pthread_sigmask(signal.SIG_UNBLOCK, [sig])
            os.kill(me, sig)
        os._exit(128 + sig)
    os._exit(code)


def main() -> None:
    out_fd = os.dup(1)
    os.dup2(2, 1)  # anything the flow's module prints goes to stderr, not the channel
    server = ForkServer(out_fd)
    # While the run that started this worker lints, plans and snapshots its code: its hello
    # names that code. An import that fails here fails again in setup, which reports it.
    with contextlib.suppress(Exception):
        _preload_task_modules()
    first = sys.stdin.buffer.readline()
    if first.startswith(b'{"op":"preload",'):  # the command line's (warm.prefork), first
        watch_reads()  # what those imports read (a package's settings file) counts too
        _preload_installed(json.loads(first)["modules"])
        first = sys.stdin.buffer.readline()
    if not first:
        return
    try:
        server.setup(json.loads(first))
    except BaseException as exc:
        from flowkit.task.failure import user_traceback

        server.send(
            {
                "op": "error",
                "type": type(exc).__name__,
                "message": str(exc),
                "traceback": user_traceback(exc),
            }
        )
        return
    server.send({"op": "ready", "pid": os.getpid()})
    server.start_zygote()  # while the scheduler sends the first task
    server.serve()
    _exit()


def _exit() -> NoReturn:
    """Exit once served (every task killed and reaped, its logs flushed and ended) without
    the interpreter's teardown, which took most of a worker's shutdown; what the flow's
    modules registered to run at exit still runs."""
    leave(0)


if __name__ == "__main__":
    main()
