"""A task's stdout and stderr in the store, written while it runs and readable meanwhile.

A writer turns output into timestamped entries and flushes them as numbered chunk objects
(``<stream>.<seq>``, see :mod:`flowkit.store.layout`), at least every ``flush_interval``
seconds (1 s locally, 2 s on a remote store, where each chunk is a request) and whenever its
buffer fills; each chunk is one atomic ``put``, so a reader in
another process (``flowkit logs --follow``) sees whole chunks, in order, before the task ends.

An entry is one line: ``<unix time> <flag><text>``, where the flag is ``|`` for a complete
output line and ``+`` for a fragment whose line continues in the next entry.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Any, Protocol

from flowkit.fastdata import dataclass
from flowkit.store import layout
from flowkit.store.backend import Backend
from flowkit.store.errors import StoreError
from flowkit.store.lease import Leases
from flowkit.store.records import TaskRecord
from flowkit.store.runs import Records

STREAMS = ("stdout", "stderr")


@dataclass(frozen=True)
class LogLine:
    """One line of output and when it was written (seconds since the epoch)."""

    timestamp: float
    text: str
    #: False for a last line the task had not finished (no newline yet).
    complete: bool = True


def _chunk_name(stream: str, seq: int) -> str:
    return f"{stream}.{seq:010d}"


class LogWriter:
    """Buffers one stream of one task attempt and flushes it to the store in chunks."""

    def __init__(
        self,
        backend: Backend,
        prefix: str,
        stream: str,
        *,
        flush_interval: float = 1.0,
        max_buffer: int = 256 << 10,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if stream not in STREAMS:
            raise ValueError(f"stream must be one of {STREAMS}, not {stream!r}")
        self._backend, self._prefix, self._stream = backend, prefix, stream
        self._interval, self._max_buffer, self._clock = flush_interval, max_buffer, clock
        self._lock = threading.Lock()
        self._entries: list[bytes] = []
        self._buffered = 0
        self._partial = b""
        self._partial_ts = 0.0
        self._seq = 0
        self._last_flush = clock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def write(self, data: bytes | str) -> None:
        """Add output; complete lines are stamped now, a trailing fragment when it began."""
        raw = data.encode() if isinstance(data, str) else bytes(data)
        if not raw:
            return
        with self._lock:
            now = self._clock()
            if not self._partial:
                self._partial_ts = now
            lines = (self._partial + raw).split(b"\n")
            self._partial = lines.pop()
            for i, line in enumerate(lines):
                self._add(self._partial_ts if i == 0 else now, b"|", line)
            if lines and self._partial:
                self._partial_ts = now
            if self._buffered >= self._max_buffer or now - self._last_flush >= self._interval:
                self._flush_locked(now)

    def _add(self, ts: float, flag: bytes, text: bytes) -> None:
        entry = b"%.6f %s%s\n" % (ts, flag, text)
        self._entries.append(entry)
        self._buffered += len(entry)

    def _flush_locked(self, now: float) -> None:
        if self._partial:
            self._add(self._partial_ts, b"+", self._partial)
            self._partial = b""
        self._last_flush = now
        if not self._entries:
            return
        chunk = b"".join(self._entries)
        self._backend.put(f"{self._prefix}/{_chunk_name(self._stream, self._seq)}", [chunk])
        self._seq += 1
        self._entries.clear()
        self._buffered = 0

    def due(self) -> float | None:
        """Seconds until the buffered output is due in the store (0: now); None when nothing
        is buffered. A writer without its own thread (one process relaying many tasks) waits
        no longer than this, then calls :meth:`flush_if_due`."""
        with self._lock:
            if not self._entries and not self._partial:
                return None
            return max(0.0, self._last_flush + self._interval - self._clock())

    def flush_if_due(self) -> None:
        """Flush if output has waited ``flush_interval`` since the last flush."""
        with self._lock:
            now = self._clock()
            if (self._entries or self._partial) and now - self._last_flush >= self._interval:
                self._flush_locked(now)

    def flush(self) -> None:
        """Write everything buffered, including a fragment of an unfinished line."""
        with self._lock:
            self._flush_locked(self._clock())

    def start(self) -> LogWriter:
        """Flush in a background thread every ``flush_interval``, so quiet tasks show up too."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="flowkit-log", daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.flush()

    def close(self) -> None:
        """Stop the background flusher and write what is left."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.flush()

    def __enter__(self) -> LogWriter:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _parse(chunk: bytes, pending: list[tuple[float, bytes]], where: str) -> Iterator[LogLine]:
    for number, entry in enumerate(chunk.split(b"\n"), 1):
        if not entry:
            continue
        stamp, _, rest = entry.partition(b" ")
        flag, text = rest[:1], rest[1:]
        try:
            when = float(stamp)
        except ValueError:
            when = None
        if when is None or flag not in (b"|", b"+"):
            raise StoreError(
                f"log chunk {where} is not in flowkit's log format "
                f"(line {number}: {entry[:60].decode(errors='replace')!r})",
                "it was changed or damaged after the task wrote it; remove that file "
                "(flowkit fsck lists every damaged chunk) and the rest of the log reads",
            )
        pending.append((when, text))
        if flag == b"|":
            yield LogLine(pending[0][0], b"".join(t for _, t in pending).decode(errors="replace"))
            pending.clear()


def check_chunk(chunk: bytes, where: str) -> None:
    """Raise the error :func:`follow` would if ``chunk`` is not in flowkit's log format."""
    for _ in _parse(chunk, [], where):
        pass


def _chunk_seqs(names: list[str], stream: str) -> list[int]:
    head = stream + "."
    return sorted(
        int(name[len(head) :])
        for name in names
        if name.startswith(head) and name[len(head) :].isdigit()
    )


def read_lines(backend: Backend, prefix: str, stream: str) -> list[LogLine]:
    """Every line written so far (an unfinished last line included)."""
    return [line for _, line in follow(backend, prefix, (stream,), done=lambda: True)]


class LogTail:
    """Reads the streams of one attempt's log as they grow, a call at a time: each
    :meth:`read` returns the complete lines written since the last (one listing, and one
    read per new chunk); :meth:`rest` the unfinished last line of each stream, once the
    attempt ended."""

    def __init__(self, backend: Backend, prefix: str, streams: tuple[str, ...] = STREAMS) -> None:
        self._backend, self._prefix, self._streams = backend, prefix, streams
        self._next_seq = dict.fromkeys(streams, 0)
        self._pending: dict[str, list[tuple[float, bytes]]] = {s: [] for s in streams}

    def read(self) -> list[tuple[str, LogLine]]:
        lines = []
        names = self._backend.list(self._prefix)
        for stream in self._streams:
            for seq in _chunk_seqs(names, stream):
                if seq < self._next_seq[stream]:
                    continue
                key = f"{self._prefix}/{_chunk_name(stream, seq)}"
                where = f"{self._backend.url}/{key}"
                chunk = self._backend.get(key)
                lines += [(stream, line) for line in _parse(chunk, self._pending[stream], where)]
                self._next_seq[stream] = seq + 1
        return lines

    def rest(self) -> list[tuple[str, LogLine]]:
        rest = []
        for stream, pending in self._pending.items():
            if pending:
                text = b"".join(t for _, t in pending).decode(errors="replace")
                rest.append((stream, LogLine(pending[0][0], text, complete=False)))
                pending.clear()
        return rest


def follow(
    backend: Backend,
    prefix: str,
    streams: tuple[str, ...],
    *,
    done: Callable[[], bool],
    poll: float = 0.25,
) -> Iterator[tuple[str, LogLine]]:
    """``(stream, line)`` as lines arrive, until ``done()`` is true and all before it is read."""
    tail = LogTail(backend, prefix, streams)
    while True:
        finished = done()
        yield from tail.read()
        if finished:
            break
        time.sleep(poll)
    yield from tail.rest()


def as_text(lines: list[LogLine]) -> str:
    """The output as the task printed it (without timestamps)."""
    return "".join(line.text + ("\n" if line.complete else "") for line in lines)


class Attempt(Protocol):
    """What names a task attempt's logs: a :class:`~flowkit.store.records.TaskRecord`, or a
    task spec before its record is written."""

    @property
    def flow(self) -> str: ...
    @property
    def run_id(self) -> str: ...
    @property
    def step(self) -> str: ...
    @property
    def task_id(self) -> str: ...
    @property
    def attempt(self) -> int: ...


class Logs:
    """Each task attempt's streamed stdout and stderr: writers for a running task, readers
    (a clone shows the logs of the task it came from) for anyone."""

    def __init__(self, backend: Backend, records: Records, leases: Leases) -> None:
        self._backend = backend
        self._records = records
        self._leases = leases

    def writer(self, attempt: Attempt, stream: str, **options: Any) -> LogWriter:
        """A writer for one stream of ``attempt`` (call ``start()`` or use ``with``)."""
        return self.writers(attempt, (stream,), **options)[stream]

    def writers(
        self, attempt: Attempt, streams: tuple[str, ...] = STREAMS, **options: Any
    ) -> dict[str, LogWriter]:
        """A writer for each of ``streams`` of ``attempt``, by stream."""
        prefix = _prefix(attempt)
        if self._backend.remote:  # a request costs more than its bytes: fewer, bigger chunks
            options = {"flush_interval": 2.0, "max_buffer": 8 << 20, **options}
        return {stream: LogWriter(self._backend, prefix, stream, **options) for stream in streams}

    def end(self, attempt: Attempt) -> None:
        """Mark the attempt's log complete: called once its writers flushed the task's last
        output (which the process relaying it may store after the task wrote its final
        record)."""
        self._backend.put_new(_end_key(attempt), b"")

    def ended(self, record: TaskRecord) -> bool:
        """Whether the attempt's log is complete: its end mark is stored, or its run is over
        (ended, or its scheduler gone), so nothing will write to it any more. A clone's log
        is its origin's."""
        record = self._records.origin(record)
        if self._backend.exists(_end_key(record)):
            return True
        if self._backend.exists(layout.run_end_key(record.flow, record.run_id)):
            return True
        created_at = self._records.get_run(record.flow, record.run_id).created_at
        return self._leases.scheduler_gone(record.flow, record.run_id, created_at)

    def read(self, record: TaskRecord, stream: str) -> list[LogLine]:
        """The lines of one stream of an attempt, as far as they were written."""
        return read_lines(self._backend, _prefix(self._records.origin(record)), stream)

    def tail(self, attempt: Attempt) -> LogTail:
        """A reader of the attempt's log as it grows (what a cluster executor echoes from),
        whether or not its records exist yet."""
        return LogTail(self._backend, _prefix(attempt))

    def follow(
        self, record: TaskRecord, streams: tuple[str, ...] = STREAMS, *, poll: float | None = None
    ) -> Iterator[tuple[str, LogLine]]:
        """``(stream, line)`` of a running attempt as they arrive, until its log is complete
        (:meth:`ended`: its end mark, not its final record, which can come before the last
        output is stored), or, if the attempt died unrecorded, until its run ended or its
        scheduler's lease ran out (the run crashed)."""
        record = self._records.origin(record)

        def done() -> bool:
            return self.ended(record)

        if poll is None:  # each poll is a few requests on a remote store
            poll = 1.0 if self._backend.remote else 0.25
        return follow(self._backend, _prefix(record), streams, done=done, poll=poll)


def _end_key(attempt: Attempt) -> str:
    return layout.log_end_key(
        attempt.flow, attempt.run_id, attempt.step, attempt.task_id, attempt.attempt
    )


def _prefix(attempt: Attempt) -> str:
    return layout.log_prefix(
        attempt.flow, attempt.run_id, attempt.step, attempt.task_id, attempt.attempt
    )
