"""Reading run and task records back from the store: a flow's runs in the order they
started, a run's steps and tasks, each task's attempts, and where a clone came from.

:class:`RecordReads` is the reading half of ``store.records``;
:class:`~flowkit.store.runs.Records` adds the writes and the ids.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Mapping, Sequence

from flowkit.store import layout
from flowkit.store.backend import Backend
from flowkit.store.errors import KeyNotFoundError, NotFoundError
from flowkit.store.ids import id_time
from flowkit.store.keys import is_name
from flowkit.store.overlap import overlapped
from flowkit.store.records import (
    Record,
    RunEndRecord,
    RunRecord,
    TaskRecord,
    loads,
)
from flowkit.store.step_index import read_index
from flowkit.store.values import Values


class RecordReads:
    """The reads of run and task records."""

    def __init__(self, backend: Backend, values: Values) -> None:
        self._backend = backend
        self._values = values

    @property
    def _url(self) -> str:
        return self._backend.url

    def _read(self, kind: type[Record], key: str) -> Record:
        return loads(kind, self._backend.get(key), f"{self._url}/{key}")

    def list_flows(self) -> list[str]:
        return self._backend.list(layout.FLOWS)

    def list_runs(self, flow: str) -> list[str]:
        """Run ids of ``flow``, by name (a time-sorted id by its time; for the runs in the
        order they started, :meth:`iter_runs`)."""
        return self._backend.list(layout.flow_prefix(flow))

    def iter_runs(self, flow: str) -> Iterator[RunRecord]:
        """Run records of ``flow``, newest first (see :func:`run_order`); a run whose start
        record was never completed (its writer was killed) is not a run and is skipped.
        Time-sorted ids are read one by one as the caller goes on; a chosen id's record is
        read up front, for its ``created_at``."""
        timed: list[str] = []
        chosen: list[str] = []
        for run_id in self.list_runs(flow):
            (chosen if id_time(run_id) is None else timed).append(run_id)
        named = [r for r in (self._read_run(flow, run_id) for run_id in chosen) if r]
        named.sort(key=lambda r: run_order(r.run_id, r.created_at), reverse=True)
        lazy = (self._read_run(flow, run_id) for run_id in reversed(timed))
        found = (r for r in lazy if r is not None)
        yield from heapq.merge(
            found, named, key=lambda r: run_order(r.run_id, r.created_at), reverse=True
        )

    def _read_run(self, flow: str, run_id: str) -> RunRecord | None:
        try:
            return self._read(RunRecord, layout.run_key(flow, run_id))
        except KeyNotFoundError:
            return None

    def has_run(self, flow: str, run_id: str) -> bool:
        """Whether ``run_id`` is a run of ``flow`` (its start record is stored)."""
        return is_name(run_id) and self._backend.exists(layout.run_key(flow, run_id))

    def get_run(self, flow: str, run_id: str) -> RunRecord:
        try:
            return self._read(RunRecord, layout.run_key(flow, run_id))
        except KeyNotFoundError:
            raise NotFoundError(
                f"run {flow}/{run_id} is not in the store at {self._url}",
                f"list the runs with: flowkit runs {flow} --store {self._url}",
            ) from None

    def get_run_end(self, flow: str, run_id: str) -> RunEndRecord | None:
        """The run's end record; None while it runs (or if it died without one)."""
        try:
            return self._read(RunEndRecord, layout.run_end_key(flow, run_id))
        except KeyNotFoundError:
            return None

    def list_steps(self, flow: str, run_id: str) -> list[str]:
        return self._backend.list(layout.steps_prefix(flow, run_id))

    def list_tasks(self, flow: str, run_id: str, step: str) -> list[TaskRecord]:
        """The latest attempt of every task of a step (its final record if it has one)."""
        key = layout.step_index_key(flow, run_id, step)
        try:
            raw = self._backend.get(key)
        except KeyNotFoundError:
            return self._scan_tasks(flow, run_id, step)
        where = f"{self._url}/{key}"
        hint = (
            f"the index of step '{step}' was damaged after it was written; delete {where} "
            "and flowkit reads the task records it summarizes instead"
        )
        return read_index(raw, where, hint)

    def _scan_tasks(
        self, flow: str, run_id: str, step: str, held: Mapping[str, TaskRecord] | None = None
    ) -> list[TaskRecord]:
        latest: dict[str, tuple[int, bool]] = {}
        for name in self._backend.list(layout.step_prefix(flow, run_id, step)):
            parsed = layout.parse_attempt_name(name)
            if parsed is None:
                continue
            task_id, attempt, final = parsed
            latest[task_id] = max(latest.get(task_id, (-1, False)), (attempt, final))
        held = held or {}

        def read(item: tuple[str, tuple[int, bool]]) -> TaskRecord:
            # each key made as it is read: a 10,000-task step's keys at once were ~1.4 MB
            # at the peak of a run's end, which holds every final record already
            task_id, (attempt, final) = item
            key = layout.attempt_key(flow, run_id, step, task_id, attempt, final=final)
            return held.get(key) or self._read(TaskRecord, key)

        return overlapped(self._backend, read, sorted(latest.items()))

    def task_attempts(self, flow: str, run_id: str, step: str, task_id: str) -> list[TaskRecord]:
        """Every attempt of one task, oldest first (final records where they exist)."""
        found: dict[int, bool] = {}
        for name in self._backend.list(layout.step_prefix(flow, run_id, step)):
            parsed = layout.parse_attempt_name(name)
            if parsed is not None and parsed[0] == task_id:
                found[parsed[1]] = found.get(parsed[1], False) or parsed[2]
        if not found:
            raise NotFoundError(
                f"task {flow}/{run_id}/{step}/{task_id} is not in the store at {self._url}",
                f"list the tasks with: flowkit show {flow}/{run_id}/{step}",
            )
        return [
            self._read(TaskRecord, layout.attempt_key(flow, run_id, step, task_id, a, final=f))
            for a, f in sorted(found.items())
        ]

    def attempt_marks(self, flow: str, run_id: str, step: str) -> dict[tuple[str, int], bool]:
        """Every attempt of ``step`` with a record, as ``(task_id, attempt)``, and whether
        that record is its final one: one listing, however many tasks the step has (what a
        cluster executor polls to learn which of its jobs started and ended, rather than
        reading a record per job)."""
        marks: dict[tuple[str, int], bool] = {}
        for name in self._backend.list(layout.step_prefix(flow, run_id, step)):
            parsed = layout.parse_attempt_name(name)
            if parsed is not None:
                task_id, attempt, final = parsed
                marks[task_id, attempt] = marks.get((task_id, attempt), False) or final
        return marks

    def get_attempt(
        self, flow: str, run_id: str, step: str, task_id: str, attempt: int
    ) -> TaskRecord | None:
        """One attempt by its keys (final record if written, else its start record), without
        listing the step: what the runtime reads after each task, so it must stay O(1)."""
        for final in (True, False):
            key = layout.attempt_key(flow, run_id, step, task_id, attempt, final=final)
            try:
                return self._read(TaskRecord, key)
            except KeyNotFoundError:
                continue
        return None

    def get_attempts(
        self, flow: str, run_id: str, attempts: Sequence[tuple[str, str, int]]
    ) -> list[TaskRecord | None]:
        """:meth:`get_attempt` of each ``(step, task_id, attempt)``, in order; the reads
        overlap on a remote store (a join reads every input's record)."""
        return overlapped(self._backend, lambda a: self.get_attempt(flow, run_id, *a), attempts)

    def get_task(self, flow: str, run_id: str, step: str, task_id: str) -> TaskRecord:
        """The latest attempt of one task."""
        return self.task_attempts(flow, run_id, step, task_id)[-1]

    def is_final(self, record: TaskRecord) -> bool:
        """Whether the attempt ``record`` has its final record."""
        return self._backend.exists(attempt_key(record, final=True))

    def origin(self, record: TaskRecord) -> TaskRecord:
        """The task a clone was copied from (``record`` itself when it is not a clone)."""
        if record.origin_pathspec is None:
            return record
        flow, run_id, step, task_id = record.origin_pathspec.split("/")
        return self.get_task(flow, run_id, step, task_id)


def run_order(run_id: str, created_at: float) -> tuple[float, str]:
    """Where a run sorts among its flow's runs, oldest first: by when it started, which a
    time-sorted id tells by itself and a chosen id (``resume --run-id``) by its record's
    ``created_at`` (as Metaflow orders runs); runs of the same millisecond by id."""
    made = id_time(run_id)
    return (created_at if made is None else made, run_id)


def attempt_key(record: TaskRecord, *, final: bool) -> str:
    return layout.attempt_key(
        record.flow, record.run_id, record.step, record.task_id, record.attempt, final=final
    )
