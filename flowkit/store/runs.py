"""Run and task records in the store: written once, listed and read back.

``store.records`` writes a run's start and end, each task attempt's start and final record
(and clones of tasks from other runs), and reads them all (the reads are in
:mod:`flowkit.store.record_reads`); the record types and their JSON
live in :mod:`flowkit.store.records`, their keys in :mod:`flowkit.store.layout`.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterable, Mapping
from typing import Any

from flowkit.store import layout, reuse_keys
from flowkit.store.backend import Backend
from flowkit.store.errors import RecordExistsError, StoreError
from flowkit.store.ids import IdGenerator
from flowkit.store.record_reads import RecordReads, attempt_key
from flowkit.store.records import (
    RUN_END_STATUSES,
    TASK_FINAL_STATUSES,
    ArtifactRef,
    RunEndRecord,
    RunRecord,
    RunStatus,
    TaskRecord,
    dumps,
)
from flowkit.store.step_index import index_body
from flowkit.store.values import Values
from flowkit.version import VERSION


class Records(RecordReads):
    """The write-once records of runs and task attempts, and the ids they are named by (their
    reads: :class:`~flowkit.store.record_reads.RecordReads`)."""

    def __init__(self, backend: Backend, values: Values) -> None:
        super().__init__(backend, values)
        self._ids = IdGenerator()

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
        sla_missed: Iterable[str] = (),
    ) -> RunEndRecord:
        """Write each step's task index and merge its tasks into the step's cache index
        (:mod:`flowkit.store.reuse_keys`), then the run's end record (which makes it final).
        ``known``: final records the caller holds already (the scheduler has read every
        task's), which the index takes instead of reading them again. ``sla_missed``: what
        passed its SLA, one line each (see :mod:`flowkit.runtime.sla`)."""
        if status not in RUN_END_STATUSES:
            raise ValueError(f"run status must be one of {sorted(RUN_END_STATUSES)}")
        held = {attempt_key(r, final=True): r for r in known if r.final}
        for step in self.list_steps(flow, run_id):
            tasks = self._scan_tasks(flow, run_id, step, held)
            body = index_body(flow, run_id, step, tasks)
            self._backend.put_new(layout.step_index_key(flow, run_id, step), body)
            reuse_keys.remember(self._backend, flow, run_id, step, tasks)
        record = RunEndRecord(flow, run_id, status, time.time(), message, tuple(sla_missed))
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
            if not self._values.stored(ref):
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

    def clone_task(
        self, origin: TaskRecord, run_id: str, parameters: Mapping[str, ArtifactRef]
    ) -> TaskRecord:
        """Copy a successful task into another run by reference (records, never data).

        ``parameters`` are the run's own parameter and config values (stored when the run
        settled them): the clone names them in place of the origin's, as a task that runs
        does, so a clone shows the parameters of the run it is in (its start task, where
        users read them, above all); the rest of the record stays as it was.
        """
        clone = origin.finished(
            origin.status,
            run_id=run_id,
            attempt=0,
            origin_pathspec=origin.origin_pathspec or origin.pathspec,
            artifacts={**origin.artifacts, **parameters},
        )
        self._write_once(attempt_key(clone, final=True), clone)
        return clone


def start_tags(user: str | None, created_at: float) -> list[str]:
    """The system tags flowkit gives every run, as Metaflow names them."""
    # Not platform.python_version() nor datetime: their imports (platform compiles a dozen
    # patterns) cost every run's start ~5 ms, for a version sys.version begins with and a date.
    tags = [] if user is None else [f"user:{user}"]
    tags += ["runtime:dev", f"python_version:{sys.version.split()[0]}"]
    tags.append(f"date:{time.strftime('%Y-%m-%d', time.gmtime(created_at))}")
    return [*tags, f"flowkit_version:{VERSION}"]


def host() -> str:
    """This machine's name, as ``socket.gethostname()`` gives it: on POSIX that is the
    kernel's node name, read without importing socket (~3 ms of every task writer's start)."""
    if hasattr(os, "uname"):
        return os.uname().nodename
    import socket

    return socket.gethostname()
