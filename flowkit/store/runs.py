"""Run and task records in the store: written once, listed and read back.

``store.records`` writes a run's start and end, each task attempt's start and final record
(and clones of tasks from other runs), and reads them all; the record types and their JSON
live in :mod:`flowkit.store.records`, their keys in :mod:`flowkit.store.layout`.
"""

from __future__ import annotations

import functools
import heapq
import json
import os
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict
from typing import Any

from flowkit.store import layout
from flowkit.store.backend import Backend
from flowkit.store.errors import KeyNotFoundError, NotFoundError, RecordExistsError, StoreError
from flowkit.store.ids import IdGenerator, id_time
from flowkit.store.keys import is_name
from flowkit.store.overlap import overlapped
from flowkit.store.records import (
    RUN_END_STATUSES,
    TASK_FINAL_STATUSES,
    Record,
    RunEndRecord,
    RunRecord,
    RunStatus,
    TaskRecord,
    decode,
    dumps,
    from_dict,
    loads,
)
from flowkit.store.values import Values


class Records:
    """The write-once records of runs and task attempts, and the ids they are named by."""

    def __init__(self, backend: Backend, values: Values) -> None:
        self._backend = backend
        self._values = values
        self._ids = IdGenerator()

    @property
    def _url(self) -> str:
        return self._backend.url

    # -- ids --------------------------------------------------------------------------------

    def new_run_id(self) -> str:
        return self._ids.new()

    def new_task_id(self) -> str:
        return self._ids.new()

    # -- writing ----------------------------------------------------------------------------

    def _write_once(self, key: str, record: RunRecord | RunEndRecord | TaskRecord) -> None:
        if not self._backend.put_new(key, dumps(record)):
            raise RecordExistsError(
                f"record {key} already exists in {self._url}; records are written once",
                "use a new run id, task id or attempt number",
            )

    def _read(self, kind: type[Record], key: str) -> Record:
        return loads(kind, self._backend.get(key), f"{self._url}/{key}")

    def create_run(
        self,
        flow: str,
        *,
        parameters: Mapping[str, Any] | None = None,
        user: str | None = None,
        tags: Iterable[str] = (),
        code_digest: str | None = None,
        origin_run_id: str | None = None,
        steps: Iterable[str] = (),
        run_id: str | None = None,
        step_code: Mapping[str, str] | None = None,
        graph: Mapping[str, Iterable[str]] | None = None,
        source: str | None = None,
        parameter_digests: Mapping[str, str] | None = None,
        system_tags: Iterable[str] = (),
    ) -> RunRecord:
        """Write the start record of a new run; ``parameters`` must be JSON-serializable
        (``parameter_digests``: the blob of each parameter's stored value). The run's system
        tags are flowkit's own (see :func:`start_tags`) and ``system_tags``."""
        from flowkit.settings import current_user  # only run starters need it, not readers

        created_at = time.time()
        user = user if user is not None else current_user()
        record = RunRecord(
            flow=flow,
            run_id=self.new_run_id() if run_id is None else run_id,
            created_at=created_at,
            parameters=dict(parameters or {}),
            user=user,
            tags=tuple(tags),
            system_tags=tuple(dict.fromkeys([*start_tags(user, created_at), *system_tags])),
            code_digest=code_digest,
            origin_run_id=origin_run_id,
            steps=tuple(steps),
            step_code=dict(step_code or {}),
            graph={step: list(targets) for step, targets in (graph or {}).items()},
            source=source,
            parameter_digests=dict(parameter_digests or {}),
        )
        try:
            self._write_once(layout.run_key(flow, record.run_id), record)
        except TypeError as exc:
            raise StoreError(
                f"run parameters of {flow} cannot be written as JSON: {exc}",
                "pass parameters as JSON values (str, int, float, bool, None, lists, dicts)",
            ) from None
        return record

    def end_run(
        self,
        flow: str,
        run_id: str,
        status: RunStatus,
        *,
        message: str | None = None,
        known: Iterable[TaskRecord] = (),
    ) -> RunEndRecord:
        """Write each step's task index, then the run's end record (which makes it final).
        ``known``: final records the caller holds already (the scheduler has read every
        task's), which the index takes instead of reading them again."""
        if status not in RUN_END_STATUSES:
            raise ValueError(f"run status must be one of {sorted(RUN_END_STATUSES)}")
        held = {attempt_key(r, final=True): r for r in known if r.final}
        for step in self.list_steps(flow, run_id):
            tasks = self._scan_tasks(flow, run_id, step, held)
            body = json.dumps({"tasks": [asdict(t) for t in tasks]}, separators=(",", ":"))
            self._backend.put_new(layout.step_index_key(flow, run_id, step), body.encode())
        record = RunEndRecord(flow, run_id, status, time.time(), message)
        self._write_once(layout.run_end_key(flow, run_id), record)
        return record

    def claim_scheduler(self, flow: str, run_id: str) -> None:
        """Make this process the one scheduler of a detached run (write-once), or raise
        :class:`RecordExistsError` saying which process took it."""
        claim = {"host": host(), "pid": os.getpid(), "at": time.time()}
        key = layout.scheduler_claim_key(flow, run_id)
        if not self._backend.put_new(key, json.dumps(claim).encode()):
            try:
                held = json.loads(self._backend.get(key))
                who = f"pid {held['pid']} on {held['host']}"
            except (ValueError, KeyError, TypeError, StoreError):
                who = "another process"
            raise RecordExistsError(
                f"run {flow}/{run_id} already has its scheduler ({who}); a run is driven once",
                f"follow it with: flowkit show {flow}/{run_id}; to run it again, resume it",
            )

    def start_task(
        self,
        flow: str,
        run_id: str,
        step: str,
        task_id: str | None = None,
        *,
        attempt: int = 0,
        foreach: Iterable[int] = (),
        parents: Iterable[str] = (),
        cache_key: str | None = None,
    ) -> TaskRecord:
        """Write the start record of a task attempt; finish it with :meth:`finish_task`."""
        record = self.new_attempt(
            flow,
            run_id,
            step,
            task_id,
            attempt=attempt,
            foreach=foreach,
            parents=parents,
            cache_key=cache_key,
        )
        self.write_start(record)
        return record

    def new_attempt(
        self,
        flow: str,
        run_id: str,
        step: str,
        task_id: str | None = None,
        *,
        attempt: int = 0,
        foreach: Iterable[int] = (),
        parents: Iterable[str] = (),
        cache_key: str | None = None,
    ) -> TaskRecord:
        """The start record of a task attempt, not written yet (see :meth:`write_start`):
        an attempt may end before anyone needs to see it running, and its final record
        holds everything its start record does."""
        return TaskRecord(
            flow=flow,
            run_id=run_id,
            step=step,
            task_id=self.new_task_id() if task_id is None else task_id,
            attempt=attempt,
            status="running",
            started_at=time.time(),
            foreach=tuple(foreach),
            parents=tuple(parents),
            cache_key=cache_key,
            host=host(),
            pid=os.getpid(),
        )

    def write_start(self, record: TaskRecord) -> None:
        """Write ``record`` (from :meth:`new_attempt`) as its attempt's start record."""
        self._write_once(attempt_key(record, final=False), record)

    def finish_task(self, record: TaskRecord) -> TaskRecord:
        """Write an attempt's final record, once every blob it names is stored."""
        if record.status not in TASK_FINAL_STATUSES:
            raise ValueError(f"a final task status is one of {sorted(TASK_FINAL_STATUSES)}")
        for name, ref in record.artifacts.items():
            if not self._values.has(ref.digest):
                raise StoreError(
                    f"{record.pathspec}: artifact '{name}' names blob {ref.digest}, "
                    f"which is not in {self._url}",
                    "store every value (values.put) before the record that names it",
                )
        for card in record.cards:
            if not self._values.has(card.digest):
                raise StoreError(
                    f"{record.pathspec}: its {card.type} card names blob {card.digest}, "
                    f"which is not in {self._url}",
                    "store the card's HTML (values.put) before the record that names it",
                )
        if record.finished_at is None:
            record = record.finished(record.status, finished_at=time.time())
        self._write_once(attempt_key(record, final=True), record)
        return record

    def clone_task(self, origin: TaskRecord, run_id: str) -> TaskRecord:
        """Copy a successful task into another run by reference (records, never data)."""
        clone = origin.finished(
            origin.status,
            run_id=run_id,
            attempt=0,
            origin_pathspec=origin.origin_pathspec or origin.pathspec,
        )
        self._write_once(attempt_key(clone, final=True), clone)
        return clone

    # -- reading ----------------------------------------------------------------------------

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
        data = decode(raw, where, hint)
        items = data.get("tasks") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise StoreError(f"{where} is not a flowkit step index", hint)
        return [from_dict(TaskRecord, item, where, hint) for item in items]

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
        keys = [
            layout.attempt_key(flow, run_id, step, t, a, final=f)
            for t, (a, f) in sorted(latest.items())
        ]
        held = held or {}
        return overlapped(
            self._backend, lambda key: held.get(key) or self._read(TaskRecord, key), keys
        )

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


def start_tags(user: str | None, created_at: float) -> list[str]:
    """The system tags flowkit gives every run, as Metaflow names them."""
    import platform
    from datetime import UTC, datetime

    tags = [] if user is None else [f"user:{user}"]
    tags += ["runtime:dev", f"python_version:{platform.python_version()}"]
    tags.append(f"date:{datetime.fromtimestamp(created_at, tz=UTC).date().isoformat()}")
    version = _flowkit_version()
    return tags if version is None else [*tags, f"flowkit_version:{version}"]


@functools.cache
def _flowkit_version() -> str | None:
    from importlib import metadata

    try:
        return metadata.version("flowkit")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return None


def attempt_key(record: TaskRecord, *, final: bool) -> str:
    return layout.attempt_key(
        record.flow, record.run_id, record.step, record.task_id, record.attempt, final=final
    )


def host() -> str:
    import socket  # only task writers need it; keep it off the client's import path

    return socket.gethostname()
