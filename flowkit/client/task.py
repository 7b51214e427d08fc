"""``Task``: one task of a run, its latest attempt (or the one asked for): status, artifacts,
logs, Metaflow's metadata, and its parent and child tasks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from flowkit.client import lineage
from flowkit.client.code import RunCode
from flowkit.client.data import Artifacts, DataArtifact, TaskData
from flowkit.client.failure import TaskException
from flowkit.client.namespace import check_run, get_namespace
from flowkit.client.provider import StoreLike, client_store, describe
from flowkit.client.task_metadata import Metadata, task_metadata
from flowkit.store import parse_pathspec
from flowkit.store.errors import NotFoundError
from flowkit.store.logs import LogLine, as_text
from flowkit.store.records import RunRecord, TaskRecord
from flowkit.store.store import Store
from flowkit.store.tags import system_tags

if TYPE_CHECKING:
    from datetime import datetime

    from flowkit.client.objects import Step


def as_time(seconds: float | None) -> datetime | None:
    """``seconds`` since the epoch as an aware UTC time; None for None."""
    if seconds is None:
        return None
    from datetime import UTC, datetime  # here: a client that reads no time never imports it

    return datetime.fromtimestamp(seconds, tz=UTC)


class Task:
    """The latest attempt of one task: its status, artifacts and logs."""

    #: The attempt asked for by ``Task(..., attempt=N)``; None: the latest.
    _attempt: int | None

    def __init__(
        self,
        pathspec: str,
        *,
        store: StoreLike = None,
        attempt: int | None = None,
        _namespace_check: bool = True,
    ) -> None:
        spec = parse_pathspec(pathspec, depth=4)
        assert spec.run_id is not None and spec.step is not None and spec.task_id is not None
        store_ = client_store(store)
        if _namespace_check:
            check_run(store_, store_.records.get_run(spec.flow, spec.run_id), get_namespace())
        attempts = store_.records.task_attempts(spec.flow, spec.run_id, spec.step, spec.task_id)
        record = attempts[-1] if attempt is None else _pick(attempts, attempt, pathspec)
        self._init(store_, record)
        self._attempt = attempt

    @classmethod
    def _from_record(cls, store: Store, record: TaskRecord) -> Task:
        task = cls.__new__(cls)
        task._init(store, record)
        return task

    def _init(self, store: Store, record: TaskRecord) -> None:
        self._store, self.record = store, record
        self.id, self.pathspec = record.task_id, record.pathspec
        self._data: TaskData | None = None
        self._attempt = None
        self._run: RunRecord | None = None

    def __repr__(self) -> str:
        return f"Task('{self.pathspec}', attempt={self.current_attempt})"

    def _repr_html_(self) -> str:
        from flowkit.client.display import task_html

        return task_html(self)

    @property
    def current_attempt(self) -> int:
        return self.record.attempt

    @property
    def successful(self) -> bool:
        return self.record.successful

    @property
    def finished(self) -> bool:
        return self.record.final

    @property
    def status(self) -> str:
        return self.record.status

    @property
    def created_at(self) -> datetime:
        started = as_time(self.record.started_at)
        assert started is not None
        return started

    @property
    def finished_at(self) -> datetime | None:
        return as_time(self.record.finished_at)

    @property
    def exception(self) -> TaskException | None:
        """How the attempt failed (Metaflow's ``type``, ``exception``, ``stacktrace``, and
        flowkit's ``name``, ``message``, ``traceback``, ``failure``); None for a task that did
        not fail, a step whose failure ``@catch`` handled included (as in Metaflow: the
        caught exception is the ``@catch`` variable's artifact, and ``caught`` is True)."""
        info = self.record.exception
        if info is None or self.record.successful:
            return None
        return TaskException.of(info, self.record.failure)

    @property
    def exit_code(self) -> int | None:
        return self.record.exit_code

    @property
    def caught(self) -> bool:
        """The step failed and ``@catch`` let the flow go on (``exception`` says with what)."""
        return self.record.caught

    @property
    def failure(self) -> str | None:
        """How a failed attempt ended: ``error``, ``lost``, ``crashed`` or ``timeout``."""
        return self.record.failure

    @property
    def origin_pathspec(self) -> str | None:
        """Where a cloned task came from; None for a task that ran in this run."""
        return self.record.origin_pathspec

    def _run_record(self) -> RunRecord:
        if self._run is None:
            self._run = self._store.records.get_run(self.record.flow, self.record.run_id)
        return self._run

    @property
    def parent(self) -> Step:
        """The step this task belongs to."""
        from flowkit.client.objects import Step  # the step module imports this one

        return Step(self.pathspec.rsplit("/", 1)[0], store=self._store, _namespace_check=False)

    @property
    def path_components(self) -> list[str]:
        return self.pathspec.split("/")

    @property
    def user_tags(self) -> frozenset[str]:
        """Its run's user tags (as in Metaflow, a task has its run's tags)."""
        return self._store.tags.user_tags(self._run_record())

    @property
    def system_tags(self) -> frozenset[str]:
        return system_tags(self._run_record())

    @property
    def tags(self) -> frozenset[str]:
        return self.user_tags | self.system_tags

    @property
    def runtime_name(self) -> str | None:
        """Where its run ran, from the run's ``runtime:`` system tag (``dev`` locally)."""
        found = [t.split(":", 1)[1] for t in self.system_tags if t.startswith("runtime:")]
        return found[0] if found else None

    @property
    def metadata(self) -> list[Metadata]:
        """Metaflow's metadata entries of every attempt (of the one attempt asked for with
        ``Task(..., attempt=N)``), made from flowkit's records (see
        :mod:`flowkit.client.task_metadata`)."""
        r = self.record
        if self._attempt is None:
            attempts = self._store.records.task_attempts(r.flow, r.run_id, r.step, r.task_id)
        else:
            attempts = [r]
        run = self._run_record()
        ds_type = describe(self._store).split("@", 1)[0]
        return task_metadata(self, attempts, run, ds_type, self._store.url)

    @property
    def metadata_dict(self) -> dict[str, str]:
        """Each metadata name's latest value."""
        return {m.name: m.value for m in sorted(self.metadata, key=lambda m: m.created_at)}

    @property
    def parent_task_pathspecs(self) -> Iterator[str]:
        """The pathspecs of the tasks this one received its artifacts from."""
        return iter(lineage.parent_pathspecs(self.record))

    @property
    def child_task_pathspecs(self) -> Iterator[str]:
        """The pathspecs of the tasks that received this one's artifacts."""
        r = self.record
        run = self._run_record()
        steps = run.graph.get(r.step) or list(r.next_steps)
        return lineage.child_pathspecs(self._store, r, steps)

    @property
    def parent_tasks(self) -> Iterator[Task]:
        for pathspec in self.parent_task_pathspecs:
            yield Task(pathspec, store=self._store, _namespace_check=False)

    @property
    def child_tasks(self) -> Iterator[Task]:
        for pathspec in self.child_task_pathspecs:
            yield Task(pathspec, store=self._store, _namespace_check=False)

    @property
    def code(self) -> RunCode | None:
        """The code package its run ran (see :attr:`Run.code`)."""
        digest = self._run_record().code_digest
        return None if digest is None else RunCode(self._store, digest, self.pathspec)

    @property
    def index(self) -> int | None:
        """The innermost foreach index, or None outside a foreach."""
        return self.record.foreach[-1] if self.record.foreach else None

    @property
    def data(self) -> TaskData:
        if self._data is None:
            self._data = TaskData(self._store, self.pathspec, self.record.artifacts)
        return self._data

    @property
    def artifacts(self) -> Artifacts:
        finished = self.record.finished_at if self.record.final else None
        return Artifacts(self._store, self.pathspec, self.record.artifacts, finished)

    def __getitem__(self, name: str) -> DataArtifact:
        return self.artifacts[name]

    def __contains__(self, name: object) -> bool:
        return name in self.record.artifacts

    def __iter__(self) -> Iterator[DataArtifact]:
        return iter(self.artifacts)

    def loglines(self, stream: str = "stdout") -> Iterator[tuple[datetime, str]]:
        """``(time, line)`` for each line the task wrote to ``stream``."""
        from datetime import UTC, datetime

        for line in self._store.logs.read(self.record, stream):
            yield datetime.fromtimestamp(line.timestamp, tz=UTC), line.text

    def log_lines(self, stream: str) -> list[LogLine]:
        return self._store.logs.read(self.record, stream)

    @property
    def stdout(self) -> str:
        return as_text(self.log_lines("stdout"))

    @property
    def stderr(self) -> str:
        return as_text(self.log_lines("stderr"))


def _pick(attempts: list[TaskRecord], attempt: int, pathspec: str) -> TaskRecord:
    for record in attempts:
        if record.attempt == attempt:
            return record
    raise NotFoundError(
        f"task {pathspec} has no attempt {attempt}",
        f"its attempts are: {', '.join(str(r.attempt) for r in attempts)}",
    )
