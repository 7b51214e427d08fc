"""What a remote executor's tasks did, read from the store: the store is the first word.

A task's worker writes its own records and logs wherever it runs, so a cluster executor
learns from the store which of its tasks started and ended (one listing per step, however
many tasks: ``Records.attempt_marks``) and what they printed (each started task's log,
tailed), and asks its backend only about tasks that ended without a final record.
:class:`StoreWatch` is that half, shared by every remote executor.
"""

from __future__ import annotations

import time
from itertools import groupby
from typing import TYPE_CHECKING

from flowkit.executor.base import Message, Output, Started, ended
from flowkit.fastdata import dataclass

if TYPE_CHECKING:
    from flowkit.store import Store, TaskRecord
    from flowkit.store.logs import LogTail
    from flowkit.task.spec import TaskSpec


#: How long a task's end is held after its final record appears, when its output is echoed:
#: its worker stores the last of the task's output just after the task wrote that record.
LINGER = 0.3


@dataclass
class _Watched:
    spec: TaskSpec
    started: bool = False
    tail: LogTail | None = None
    #: Its final record, once seen, and when its end is reported (monotonic).
    record: TaskRecord | None = None
    end_at: float = 0.0


class StoreWatch:
    """The submitted tasks of one executor, by key, as the store shows them. ``echo``:
    whether their output is read back for :class:`~flowkit.executor.base.Output`."""

    def __init__(self, store: Store, *, echo: bool) -> None:
        self._store = store
        self._echo = echo
        self._tasks: dict[str, _Watched] = {}

    def __contains__(self, key: str) -> bool:
        return key in self._tasks

    def __len__(self) -> int:
        return len(self._tasks)

    def keys(self) -> list[str]:
        return list(self._tasks)

    def add(self, key: str, spec: TaskSpec) -> None:
        self._tasks[key] = _Watched(spec)

    def started(self, key: str) -> bool:
        return self._tasks[key].started

    def start(self, key: str) -> list[Message]:
        """``Started`` the first time the task is seen running (by the store or the
        backend), nothing after."""
        task = self._tasks[key]
        if task.started:
            return []
        task.started = True
        if self._echo:
            task.tail = self._store.logs.tail(task.spec)
        return [Started(key)]

    def ending(self, key: str) -> bool:
        """Whether the task's final record was seen: its end is on the way."""
        return self._tasks[key].record is not None

    def look(self) -> list[Message]:
        """What the store says since the last look: tasks that started, and those whose
        final record was seen a moment ago (see :data:`LINGER`), which end here as that
        record says (and leave the watch)."""
        now = time.monotonic()
        news: list[Message] = []
        for key, task in list(self._tasks.items()):
            if task.record is not None and now >= task.end_at:
                news += self._end(key, task.record)
        by_step: dict[tuple[str, str, str], list[str]] = {}
        for key, task in self._tasks.items():
            if task.record is not None:
                continue
            spec = task.spec
            by_step.setdefault((spec.flow, spec.run_id, spec.step), []).append(key)
        for (flow, run_id, step), keys in by_step.items():
            marks = self._store.records.attempt_marks(flow, run_id, step)
            for key in keys:
                spec = self._tasks[key].spec
                final = marks.get((spec.task_id, spec.attempt))
                if final is not None:
                    news += self.start(key)
                if final and (record := self.record(key)) is not None and record.final:
                    news += self.recorded(key, record)
                    if not self._echo:
                        news += self._end(key, record)
        return news

    def output(self, key: str, *, ended: bool = False) -> list[Message]:
        """What the task printed since the last read, as ``Output`` (all of it once it
        ended, an unfinished last line too)."""
        tail = self._tasks[key].tail
        if tail is None:
            return []
        lines = tail.read() + (tail.rest() if ended else [])
        return [
            Output(key, stream, tuple(line.text for _, line in group))
            for stream, group in groupby(lines, key=lambda pair: pair[0])
        ]

    def outputs(self) -> list[Message]:
        """:meth:`output` of every task."""
        return [message for key in list(self._tasks) for message in self.output(key)]

    def record(self, key: str) -> TaskRecord | None:
        """The attempt's record as the store has it now (its final one once written)."""
        spec = self._tasks[key].spec
        return self._store.records.get_attempt(
            spec.flow, spec.run_id, spec.step, spec.task_id, spec.attempt
        )

    def recorded(self, key: str, record: TaskRecord) -> list[Message]:
        """The task wrote its final ``record``: what it printed so far; :meth:`look`
        reports its end (as the record says) once its last output had time to arrive."""
        task = self._tasks[key]
        if task.record is None:
            task.record, task.end_at = record, time.monotonic() + (LINGER if self._echo else 0)
        return [*self.start(key), *self.output(key)]

    def _end(self, key: str, record: TaskRecord) -> list[Message]:
        news = self.output(key, ended=True)
        status = record.exit_code if record.exit_code is not None else int(not record.successful)
        news.append(ended(key, 0 if record.successful else status or 1))
        del self._tasks[key]
        return news

    def drop(self, key: str, *, drain: bool = True) -> list[Message]:
        """The task leaves the watch without a final record (its backend explains its end,
        or it was cancelled); with ``drain``, what it printed last."""
        news = self.output(key, ended=True) if drain else []
        del self._tasks[key]
        return news
