"""The store facade the runtime, the client and the CLI use: values, records, ids and logs."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict
from typing import Any

from flowkit.store import layout
from flowkit.store.backend import Backend
from flowkit.store.blobs import BlobStore
from flowkit.store.errors import (
    CorruptBlobError,
    KeyNotFoundError,
    NotFoundError,
    RecordExistsError,
    StoreError,
)
from flowkit.store.ids import IdGenerator
from flowkit.store.lease import LEASE_BEATS, Lease, RunState, clock_skew, heartbeat_interval
from flowkit.store.logs import STREAMS, LogLine, LogWriter, follow, read_lines
from flowkit.store.records import (
    RUN_END_STATUSES,
    TASK_FINAL_STATUSES,
    ArtifactRef,
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
from flowkit.store.serialize import from_frames, to_frames, type_name


class Store:
    """One store root seen through a :class:`~flowkit.store.backend.Backend`."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.blobs = BlobStore(backend)
        self._ids = IdGenerator()
        #: Digests this object wrote or saw stored, so finishing a task checks only the rest.
        self._known: set[str] = set()

    @property
    def url(self) -> str:
        return self.backend.url

    def __repr__(self) -> str:
        return f"Store({self.backend!r})"

    # -- values -----------------------------------------------------------------------------

    def put_value(
        self, value: Any, *, name: str = "<value>", step: str | None = None
    ) -> ArtifactRef:
        """Store ``value`` (once per distinct content); ``name``/``step`` word any error."""
        frames = to_frames(value, name=name, step=step)
        digest, _ = self.blobs.put(frames)
        self._known.add(digest)
        return ArtifactRef(digest, frames.size, type_name(value))

    def put_artifacts(self, values: Mapping[str, Any], *, step: str) -> dict[str, ArtifactRef]:
        """Store each artifact of a step; the error for an unpicklable one names it."""
        return {name: self.put_value(v, name=name, step=step) for name, v in values.items()}

    def load_value(self, digest: str, *, owner: str | None = None) -> Any:
        """The value stored as ``digest``, verified against it; ``owner`` (``artifact 'x' of
        task F/r/s/t``) words the error when the blob is corrupt or missing."""
        try:
            segments = self.blobs.read(digest)
        except CorruptBlobError as exc:
            if owner is None:
                raise
            raise exc.naming(owner) from None
        return from_frames(segments)

    def has_value(self, digest: str) -> bool:
        return digest in self._known or self.blobs.exists(digest)

    # -- ids --------------------------------------------------------------------------------

    def new_run_id(self) -> str:
        return self._ids.new()

    def new_task_id(self) -> str:
        return self._ids.new()

    # -- records ----------------------------------------------------------------------------

    def _write_once(self, key: str, record: RunRecord | RunEndRecord | TaskRecord) -> None:
        if not self.backend.put_new(key, dumps(record)):
            raise RecordExistsError(
                f"record {key} already exists in {self.url}; records are written once",
                "use a new run id, task id or attempt number",
            )

    def _read(self, kind: type[Record], key: str) -> Record:
        return loads(kind, self.backend.get(key), f"{self.url}/{key}")

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
    ) -> RunRecord:
        """Write the start record of a new run; ``parameters`` must be JSON-serializable."""
        from flowkit.settings import current_user  # only run starters need it, not readers

        record = RunRecord(
            flow=flow,
            run_id=self.new_run_id() if run_id is None else run_id,
            created_at=time.time(),
            parameters=dict(parameters or {}),
            user=user if user is not None else current_user(),
            tags=tuple(tags),
            code_digest=code_digest,
            origin_run_id=origin_run_id,
            steps=tuple(steps),
            step_code=dict(step_code or {}),
            graph={step: list(targets) for step, targets in (graph or {}).items()},
            source=source,
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
        self, flow: str, run_id: str, status: RunStatus, *, message: str | None = None
    ) -> RunEndRecord:
        """Write each step's task index, then the run's end record (which makes it final)."""
        if status not in RUN_END_STATUSES:
            raise ValueError(f"run status must be one of {sorted(RUN_END_STATUSES)}")
        for step in self.list_steps(flow, run_id):
            tasks = self._scan_tasks(flow, run_id, step)
            body = json.dumps({"tasks": [asdict(t) for t in tasks]}, separators=(",", ":"))
            self.backend.put_new(layout.step_index_key(flow, run_id, step), body.encode())
        record = RunEndRecord(flow, run_id, status, time.time(), message)
        self._write_once(layout.run_end_key(flow, run_id), record)
        return record

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
        record = TaskRecord(
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
            host=_host(),
            pid=os.getpid(),
        )
        self._write_once(self._attempt_key(record, final=False), record)
        return record

    def finish_task(self, record: TaskRecord) -> TaskRecord:
        """Write an attempt's final record, once every blob it names is stored."""
        if record.status not in TASK_FINAL_STATUSES:
            raise ValueError(f"a final task status is one of {sorted(TASK_FINAL_STATUSES)}")
        for name, ref in record.artifacts.items():
            if not self.has_value(ref.digest):
                raise StoreError(
                    f"{record.pathspec}: artifact '{name}' names blob {ref.digest}, "
                    f"which is not in {self.url}",
                    "store every value (put_value) before the record that names it",
                )
        if record.finished_at is None:
            record = record.finished(record.status, finished_at=time.time())
        self._write_once(self._attempt_key(record, final=True), record)
        return record

    def clone_task(self, origin: TaskRecord, run_id: str) -> TaskRecord:
        """Copy a successful task into another run by reference (records, never data)."""
        clone = origin.finished(
            origin.status,
            run_id=run_id,
            attempt=0,
            origin_pathspec=origin.origin_pathspec or origin.pathspec,
        )
        self._write_once(self._attempt_key(clone, final=True), clone)
        return clone

    def remember_cache_key(self, record: TaskRecord) -> None:
        """Index a successful task by its cache key; the latest task with a key takes it over
        (so a task that ran again because the indexed one had lost its data replaces it)."""
        if record.cache_key and record.successful:
            body = json.dumps({"pathspec": record.pathspec, "attempt": record.attempt})
            self.backend.put(layout.cache_key_path(record.flow, record.cache_key), [body.encode()])

    def lookup_cache_key(self, flow: str, key: str) -> TaskRecord | None:
        """The successful task indexed under ``key``, if any (and if it still reads back).
        A broken entry is no entry: the task runs, and its own entry replaces the broken one."""
        try:
            _, run_id, step, task_id, attempt = self.cache_entry(layout.cache_key_path(flow, key))
        except StoreError:  # missing, or not an entry
            return None
        record = self.get_attempt(flow, run_id, step, task_id, attempt)
        return record if record is not None and record.successful else None

    def cache_entry(self, key: str) -> tuple[str, str, str, str, int]:
        """The task attempt the cache entry stored under backend key ``key`` names: flow, run
        id, step, task id, attempt; :class:`StoreError` if it is not an entry."""
        where = f"{self.url}/{key}"
        hint = "it is only an index: remove it, and the next task with its key writes it again"
        data = decode(self.backend.get(key), where, hint)
        try:
            flow, run_id, step, task_id = str(data["pathspec"]).split("/")
            return flow, run_id, step, task_id, int(data.get("attempt", 0))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise StoreError(
                f"{where} is not a cache entry ({type(exc).__name__}: {exc})", hint
            ) from None

    def write_explanation(self, flow: str, run_id: str, decisions: list[dict[str, Any]]) -> None:
        """Record, once, why each task of a run ran, was cloned or was reused."""
        body = json.dumps({"decisions": decisions}, separators=(",", ":"))
        self.backend.put_new(layout.explain_key(flow, run_id), body.encode())

    def read_explanation(self, flow: str, run_id: str) -> list[dict[str, Any]]:
        """What :meth:`write_explanation` recorded for a run (empty if nothing was)."""
        try:
            data = json.loads(self.backend.get(layout.explain_key(flow, run_id)))
        except KeyNotFoundError:
            return []
        return list(data["decisions"])

    @staticmethod
    def _attempt_key(record: TaskRecord, *, final: bool) -> str:
        return layout.attempt_key(
            record.flow, record.run_id, record.step, record.task_id, record.attempt, final=final
        )

    # -- reading ----------------------------------------------------------------------------

    def list_flows(self) -> list[str]:
        return self.backend.list(layout.FLOWS)

    def list_runs(self, flow: str) -> list[str]:
        """Run ids of ``flow``, oldest first."""
        return self.backend.list(layout.flow_prefix(flow))

    def iter_runs(self, flow: str) -> Iterator[RunRecord]:
        """Run records of ``flow``, newest first; a run whose start record was never
        completed (its writer was killed) is not a run and is skipped."""
        for run_id in reversed(self.list_runs(flow)):
            key = layout.run_key(flow, run_id)
            try:
                yield self._read(RunRecord, key)
            except KeyNotFoundError:
                continue

    def get_run(self, flow: str, run_id: str) -> RunRecord:
        try:
            return self._read(RunRecord, layout.run_key(flow, run_id))
        except KeyNotFoundError:
            raise NotFoundError(
                f"run {flow}/{run_id} is not in the store at {self.url}",
                f"list the runs with: flowkit runs {flow} --store {self.url}",
            ) from None

    def get_run_end(self, flow: str, run_id: str) -> RunEndRecord | None:
        """The run's end record; None while it runs (or if it died without one)."""
        try:
            return self._read(RunEndRecord, layout.run_end_key(flow, run_id))
        except KeyNotFoundError:
            return None

    def list_steps(self, flow: str, run_id: str) -> list[str]:
        return self.backend.list(layout.steps_prefix(flow, run_id))

    def list_tasks(self, flow: str, run_id: str, step: str) -> list[TaskRecord]:
        """The latest attempt of every task of a step (its final record if it has one)."""
        key = layout.step_index_key(flow, run_id, step)
        try:
            raw = self.backend.get(key)
        except KeyNotFoundError:
            return self._scan_tasks(flow, run_id, step)
        where = f"{self.url}/{key}"
        hint = (
            f"the index of step '{step}' was damaged after it was written; delete {where} "
            "and flowkit reads the task records it summarizes instead"
        )
        data = decode(raw, where, hint)
        items = data.get("tasks") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise StoreError(f"{where} is not a flowkit step index", hint)
        return [from_dict(TaskRecord, item, where, hint) for item in items]

    def _scan_tasks(self, flow: str, run_id: str, step: str) -> list[TaskRecord]:
        latest: dict[str, tuple[int, bool]] = {}
        for name in self.backend.list(layout.step_prefix(flow, run_id, step)):
            parsed = layout.parse_attempt_name(name)
            if parsed is None:
                continue
            task_id, attempt, final = parsed
            latest[task_id] = max(latest.get(task_id, (-1, False)), (attempt, final))
        return [
            self._read(TaskRecord, layout.attempt_key(flow, run_id, step, t, a, final=f))
            for t, (a, f) in sorted(latest.items())
        ]

    def task_attempts(self, flow: str, run_id: str, step: str, task_id: str) -> list[TaskRecord]:
        """Every attempt of one task, oldest first (final records where they exist)."""
        found: dict[int, bool] = {}
        for name in self.backend.list(layout.step_prefix(flow, run_id, step)):
            parsed = layout.parse_attempt_name(name)
            if parsed is not None and parsed[0] == task_id:
                found[parsed[1]] = found.get(parsed[1], False) or parsed[2]
        if not found:
            raise NotFoundError(
                f"task {flow}/{run_id}/{step}/{task_id} is not in the store at {self.url}",
                f"list the tasks with: flowkit show {flow}/{run_id}/{step}",
            )
        return [
            self._read(TaskRecord, layout.attempt_key(flow, run_id, step, task_id, a, final=f))
            for a, f in sorted(found.items())
        ]

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

    def get_task(self, flow: str, run_id: str, step: str, task_id: str) -> TaskRecord:
        """The latest attempt of one task."""
        return self.task_attempts(flow, run_id, step, task_id)[-1]

    # -- liveness ---------------------------------------------------------------------------

    def renew_lease(self, flow: str, run_id: str, *, interval: float) -> Lease:
        """Say that the run's scheduler is alive for ``LEASE_BEATS`` beats of ``interval``
        seconds more: one atomic overwrite of the run's lease (see :mod:`~flowkit.store.lease`)."""
        now = time.time()
        lease = Lease(flow, run_id, now, now + LEASE_BEATS * interval, _host(), os.getpid())
        self.backend.put(layout.lease_key(flow, run_id), [lease.to_bytes()])
        return lease

    def get_lease(self, flow: str, run_id: str) -> Lease | None:
        """The run's lease as its scheduler last wrote it; None before its first beat."""
        key = layout.lease_key(flow, run_id)
        try:
            data = self.backend.get(key)
        except KeyNotFoundError:
            return None
        return Lease.from_bytes(data, f"{self.url}/{key}")

    def scheduler_gone(
        self, flow: str, run_id: str, created_at: float, *, now: float | None = None
    ) -> bool:
        """Whether the run's lease ran out (allowing for clock skew). Before its first beat
        a run counts from ``created_at``, its creation. Says nothing of finished runs: ask
        :meth:`run_state` for a run's state."""
        lease = self.get_lease(flow, run_id)
        if lease is None:
            lease = Lease(flow, run_id, created_at, created_at + LEASE_BEATS * heartbeat_interval())
        return lease.expired(time.time() if now is None else now, clock_skew())

    def run_state(self, run: RunRecord, *, now: float | None = None) -> RunState:
        """How the run ended (its end record), else ``running`` while its scheduler keeps
        its lease and ``crashed`` once the lease ran out: a finished run never reads as
        crashed."""
        end = self.get_run_end(run.flow, run.run_id)
        if end is not None:
            return end.status
        if self.scheduler_gone(run.flow, run.run_id, run.created_at, now=now):
            return "crashed"
        return "running"

    # -- logs -------------------------------------------------------------------------------

    def log_writer(self, record: TaskRecord, stream: str, **options: Any) -> LogWriter:
        """A writer for one stream of the attempt ``record`` (call ``start()`` or use ``with``)."""
        return LogWriter(self.backend, _log_prefix(record), stream, **options)

    def read_log(self, record: TaskRecord, stream: str) -> list[LogLine]:
        """The lines of one stream of an attempt, as far as they were written.

        A cloned task has no logs of its own: it shows those of the task it came from.
        """
        if record.origin_pathspec is not None:
            record = self._origin(record)
        return read_lines(self.backend, _log_prefix(record), stream)

    def _origin(self, record: TaskRecord) -> TaskRecord:
        assert record.origin_pathspec is not None
        flow, run_id, step, task_id = record.origin_pathspec.split("/")
        return self.get_task(flow, run_id, step, task_id)

    def follow_log(
        self, record: TaskRecord, streams: tuple[str, ...] = STREAMS, *, poll: float = 0.25
    ) -> Iterator[tuple[str, LogLine]]:
        """``(stream, line)`` of a running attempt as they arrive, until the attempt's final
        record is written, or, if the attempt died unrecorded, until its run ended or its
        scheduler's lease ran out (the run crashed)."""
        if record.origin_pathspec is not None:
            record = self._origin(record)
        final_key = self._attempt_key(record, final=True)
        end_key = layout.run_end_key(record.flow, record.run_id)
        created_at = self.get_run(record.flow, record.run_id).created_at

        def done() -> bool:
            return (
                self.backend.exists(final_key)
                or self.backend.exists(end_key)
                or self.scheduler_gone(record.flow, record.run_id, created_at)
            )

        return follow(self.backend, _log_prefix(record), streams, done=done, poll=poll)

    def artifact_source(self, record: TaskRecord) -> StoreArtifacts:
        """The attempt's artifacts as an :class:`~flowkit.authoring.artifacts.ArtifactSource`."""
        return StoreArtifacts(self, record.artifacts, owner=record.pathspec)


def _log_prefix(record: TaskRecord) -> str:
    return layout.log_prefix(
        record.flow, record.run_id, record.step, record.task_id, record.attempt
    )


def _host() -> str:
    import socket  # only task writers need it; keep it off the client's import path

    return socket.gethostname()


class StoreArtifacts:
    """A task's artifacts read lazily from the store: names and digests now, values on load."""

    def __init__(
        self, store: Store, refs: Mapping[str, ArtifactRef], *, owner: str | None = None
    ) -> None:
        self._store = store
        self._refs = dict(refs)
        self._owner = owner

    def names(self) -> Iterable[str]:
        return list(self._refs)

    def ref(self, name: str) -> ArtifactRef:
        return self._refs[name]

    def digest(self, name: str) -> str:
        return self._refs[name].digest

    def load(self, name: str) -> Any:
        owner = f"artifact '{name}' of task {self._owner}" if self._owner else f"artifact '{name}'"
        return self._store.load_value(self._refs[name].digest, owner=owner)
