"""``Flow``, ``Run``, ``Step`` and ``Task``: a read-only view of past and running flows.

Each object takes an optional ``store`` (a :class:`~flowkit.store.Store`, a path or a URL);
without one, the one :func:`~flowkit.client.provider.metadata` chose, else the store resolved
like everywhere else (``FLOWKIT_STORE``, the project's ``pyproject.toml``, the per-user
default). Reading never needs the flow's source.

Runs are seen through the current namespace (:mod:`flowkit.client.namespace`): a flow's runs
are those carrying its tag, and a run asked for by pathspec outside it is an error, unless
the object is made with ``_namespace_check=False`` (as in Metaflow), as flowkit's own tools do.
Mapping access (``flow[run_id]``, ``run[step]``, ``step[task_id]``, ``task[name]``) raises a
:class:`~flowkit.client.data.ObjectNotFound`, a KeyError, for what is not there.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from flowkit.client.code import RunCode
from flowkit.client.data import ObjectNotFound, TaskData
from flowkit.client.namespace import NamespaceMismatch, get_namespace, in_namespace
from flowkit.client.provider import StoreLike as StoreLike
from flowkit.client.provider import client_store
from flowkit.client.tags import replace_tags
from flowkit.client.task import Task as Task
from flowkit.client.task import as_time
from flowkit.store import check_name, parse_pathspec
from flowkit.store.errors import NotFoundError
from flowkit.store.lease import RunState
from flowkit.store.records import SUCCEEDED, RunEndRecord, RunRecord, TaskRecord
from flowkit.store.store import Store
from flowkit.store.tags import system_tags

if TYPE_CHECKING:
    from datetime import datetime


class Flow:
    """Every run of one flow in the store."""

    def __init__(
        self, name: str, *, store: StoreLike = None, _namespace_check: bool = True
    ) -> None:
        self._store = client_store(store)
        self.id = self.pathspec = check_name("flow", name)
        self._ns = get_namespace() if _namespace_check else None
        if next(self._store.records.iter_runs(name), None) is None:
            known = ", ".join(self._store.records.list_flows()[:20]) or "none"
            raise NotFoundError(
                f"flow {name} has no runs in the store at {self._store.url}",
                f"flows there: {known}. Run the flow first, or point at its store with "
                "--store or FLOWKIT_STORE",
            )
        if self._ns is not None and self.latest_run is None:
            raise NamespaceMismatch(f"flow {name} (none of its runs)", self._ns)

    def __repr__(self) -> str:
        return f"Flow('{self.id}')"

    def _repr_html_(self) -> str:
        from flowkit.client.runs_html import flow_html

        return flow_html(self.id, self.runs())

    def runs(self, *tags: str) -> Iterator[Run]:
        """Runs in the namespace, newest first; with ``tags``, only runs carrying all of them
        (user or system tags)."""
        for record in self._store.records.iter_runs(self.id):
            run = Run._from_record(self._store, record, self._ns)
            if run._in(self._ns) and all(t in run.tags for t in tags):
                yield run

    def __iter__(self) -> Iterator[Run]:
        return self.runs()

    def __getitem__(self, run_id: str) -> Run:
        """The run ``run_id``: a KeyError (:class:`ObjectNotFound`) if the flow has none,
        :class:`NamespaceMismatch` if it is outside the namespace."""
        if run_id not in self:
            raise ObjectNotFound(
                f"flow {self.id} has no run {run_id!r} in the store at {self._store.url}",
                f"list its runs with: flowkit runs {self.id}",
            )
        run = Run._from_store(self._store, self.id, run_id, self._ns)
        run._check_namespace()
        return run

    def __contains__(self, run_id: object) -> bool:
        return isinstance(run_id, str) and self._store.records.has_run(self.id, run_id)

    @property
    def latest_run(self) -> Run | None:
        """The most recently started run (finished or not)."""
        return next(self.runs(), None)

    @property
    def latest_successful_run(self) -> Run | None:
        """The most recently started run that ended successfully."""
        return next((r for r in self.runs() if r.successful), None)


class Run:
    """One run: its record, its end state, and its steps."""

    def __init__(
        self, pathspec: str, *, store: StoreLike = None, _namespace_check: bool = True
    ) -> None:
        spec = parse_pathspec(pathspec, depth=2)
        assert spec.run_id is not None
        store_ = client_store(store)
        ns = get_namespace() if _namespace_check else None
        self._init(store_, store_.records.get_run(spec.flow, spec.run_id), ns)
        self._check_namespace()

    @classmethod
    def _from_store(cls, store: Store, flow: str, run_id: str, ns: str | None = None) -> Run:
        return cls._from_record(store, store.records.get_run(flow, run_id), ns)

    @classmethod
    def _from_record(cls, store: Store, record: RunRecord, ns: str | None = None) -> Run:
        run = cls.__new__(cls)
        run._init(store, record, ns)
        return run

    def _init(self, store: Store, record: RunRecord, ns: str | None) -> None:
        self._store, self.record, self._ns = store, record, ns
        self.flow_name, self.id = record.flow, record.run_id
        self.pathspec = f"{record.flow}/{record.run_id}"
        self._user_tags: frozenset[str] | None = None

    def _in(self, ns: str | None) -> bool:
        # a system tag never goes away: only a run without it needs its tag changes read
        return in_namespace(self.system_tags, ns) or in_namespace(self.tags, ns)

    def _check_namespace(self) -> None:
        if not self._in(self._ns):
            raise NamespaceMismatch(f"run {self.pathspec}", self._ns)

    def __repr__(self) -> str:
        return f"Run('{self.pathspec}')"

    def _repr_html_(self) -> str:
        from flowkit.client.display import run_html

        return run_html(self)

    @property
    def explanation(self) -> list[dict[str, Any]]:
        """Why each task ran, was cloned or was reused: one dict per task (step, task_id,
        action, reason, origin), for resumed runs and ``run --reuse``; else empty."""
        return self._store.index.read_explanation(self.flow_name, self.id)

    @property
    def end_record(self) -> RunEndRecord | None:
        """Read afresh each time, so a running run is seen finishing."""
        return self._store.records.get_run_end(self.flow_name, self.id)

    @property
    def status(self) -> RunState:
        """``succeeded``, ``failed`` or ``cancelled`` once the run ended; until then
        ``running`` while its scheduler is alive, and ``crashed`` once the scheduler has
        stopped renewing the run's lease (it was killed, or its machine or kernel died): a
        crashed run never ends by itself; resume it. Read afresh each time."""
        return self._store.leases.run_state(self.record)

    @property
    def heartbeat_at(self) -> datetime | None:
        """When the run's scheduler last said it was alive (its clock); None before its first
        beat. See :mod:`flowkit.store.lease`."""
        lease = self._store.leases.get(self.flow_name, self.id)
        return None if lease is None else as_time(lease.written_at)

    @property
    def finished(self) -> bool:
        return self.end_record is not None

    @property
    def successful(self) -> bool:
        end = self.end_record
        return end is not None and end.status == SUCCEEDED

    @property
    def created_at(self) -> datetime:
        created = as_time(self.record.created_at)
        assert created is not None
        return created

    @property
    def finished_at(self) -> datetime | None:
        end = self.end_record
        return None if end is None else as_time(end.finished_at)

    @property
    def user_tags(self) -> frozenset[str]:
        """The tags given at start (``--tag``) as changed since (:meth:`add_tag`, ...)."""
        if self._user_tags is None:
            self._user_tags = self._store.tags.user_tags(self.record)
        return self._user_tags

    @property
    def system_tags(self) -> frozenset[str]:
        """The tags flowkit gave the run (``user:NAME``, ``runtime:dev``, ...): fixed."""
        return system_tags(self.record)

    @property
    def tags(self) -> frozenset[str]:
        """User and system tags together."""
        return self.user_tags | self.system_tags

    def add_tag(self, tag: str | Iterable[str]) -> None:
        """Add a user tag (one already a system tag is not added, and that is no error)."""
        self.replace_tags([], [tag] if isinstance(tag, str) else tag)

    def add_tags(self, tags: Iterable[str]) -> None:
        self.replace_tags([], tags)

    def remove_tag(self, tag: str | Iterable[str]) -> None:
        """Remove a user tag (removing one the run lacks does nothing; a system tag: an
        error)."""
        self.replace_tags([tag] if isinstance(tag, str) else tag, [])

    def remove_tags(self, tags: Iterable[str]) -> None:
        self.replace_tags(tags, [])

    def replace_tag(
        self, tag_to_remove: str | Iterable[str], tag_to_add: str | Iterable[str]
    ) -> None:
        remove = [tag_to_remove] if isinstance(tag_to_remove, str) else tag_to_remove
        self.replace_tags(remove, [tag_to_add] if isinstance(tag_to_add, str) else tag_to_add)

    def replace_tags(self, tags_to_remove: Iterable[str], tags_to_add: Iterable[str]) -> None:
        """Remove, then add, user tags, as one change recorded in the store."""
        self._user_tags = replace_tags(self._store, self.record, tags_to_remove, tags_to_add)

    @property
    def parent(self) -> Flow:
        return Flow(self.flow_name, store=self._store, _namespace_check=False)

    @property
    def path_components(self) -> list[str]:
        return self.pathspec.split("/")

    @property
    def origin_pathspec(self) -> str | None:
        """The run this one resumed (``Flow/run_id``); None for a run that resumed none."""
        origin = self.record.origin_run_id
        return None if origin is None else f"{self.flow_name}/{origin}"

    @property
    def parameters(self) -> dict[str, Any]:
        return dict(self.record.parameters)

    @property
    def origin_run_id(self) -> str | None:
        return self.record.origin_run_id

    @property
    def code(self) -> RunCode | None:
        """The code package the run ran (its files, byte for byte, see
        :class:`~flowkit.client.code.RunCode`); None for a run from before flowkit stored
        one. Read from the store each time."""
        digest = self.record.code_digest
        return None if digest is None else RunCode(self._store, digest, self.pathspec)

    @property
    def resume_hint(self) -> str:
        """What to type to resume this run: the command for a flow file, the call for a
        flow from a notebook."""
        return resume_hint(self.flow_name, self.id, self.record.source)

    def graph_steps(self) -> Iterator[Step]:
        """Steps that have tasks, in graph order where the run recorded it, else by name
        (what ``flowkit show`` lists)."""
        present = self._store.records.list_steps(self.flow_name, self.id)
        ordered = [s for s in self.record.steps if s in present]
        ordered += [s for s in present if s not in ordered]
        for name in ordered:
            records = self._store.records.list_tasks(self.flow_name, self.id, name)
            if records:  # a step whose first start record was never completed is no step
                yield Step._from_records(self._store, self, name, records)

    def steps(self) -> Iterator[Step]:
        """Steps that have tasks, newest first (the step whose first task started last
        first: ``end`` before ``start``), as Metaflow's client iterates a run; in graph order:
        :meth:`graph_steps`."""
        ordered = list(self.graph_steps())
        by_start = sorted(
            range(len(ordered)),
            key=lambda i: (min(r.started_at for r in ordered[i]._records), i),
            reverse=True,
        )
        return iter([ordered[i] for i in by_start])

    def __iter__(self) -> Iterator[Step]:
        return self.steps()

    def __getitem__(self, step: str) -> Step:
        """The step ``step``: a KeyError (:class:`ObjectNotFound`) if the run has none."""
        return Step._from_store(self._store, self, check_name("step", step))

    def __contains__(self, step: object) -> bool:
        return step in self._store.records.list_steps(self.flow_name, self.id)

    @property
    def end_task(self) -> Task | None:
        """The ``end`` step's task, once it exists."""
        try:
            return self["end"].task
        except NotFoundError:
            return None

    @property
    def data(self) -> TaskData | None:
        """The ``end`` step's artifacts (None until the end step has run)."""
        end = self.end_task
        return None if end is None else end.data


class Step:
    """One step of a run: an iterable of its tasks."""

    def __init__(
        self, pathspec: str, *, store: StoreLike = None, _namespace_check: bool = True
    ) -> None:
        spec = parse_pathspec(pathspec, depth=3)
        assert spec.run_id is not None and spec.step is not None
        store_ = client_store(store)
        ns = get_namespace() if _namespace_check else None
        run = Run._from_store(store_, spec.flow, spec.run_id, ns)
        run._check_namespace()
        self._init(store_, run, spec.step)

    @classmethod
    def _from_store(cls, store: Store, run: Run, name: str) -> Step:
        step = cls.__new__(cls)
        step._init(store, run, name)
        return step

    @classmethod
    def _from_records(cls, store: Store, run: Run, name: str, records: list[TaskRecord]) -> Step:
        step = cls.__new__(cls)
        step._init(store, run, name, records)
        return step

    def _init(
        self, store: Store, run: Run, name: str, records: list[TaskRecord] | None = None
    ) -> None:
        self._store, self.run, self.id = store, run, name
        self.pathspec = f"{run.pathspec}/{name}"
        if records is None:
            records = store.records.list_tasks(run.flow_name, run.id, name)
        self._records = records
        if not self._records:
            steps = ", ".join(store.records.list_steps(run.flow_name, run.id)) or "none yet"
            raise ObjectNotFound(
                f"run {run.pathspec} has no step '{name}'", f"its steps are: {steps}"
            )

    def __repr__(self) -> str:
        return f"Step('{self.pathspec}')"

    def _repr_html_(self) -> str:
        from flowkit.client.display import step_html

        return step_html(self)

    def tasks(self) -> Iterator[Task]:
        return (Task._from_record(self._store, r) for r in self._records)

    def __iter__(self) -> Iterator[Task]:
        return self.tasks()

    def __len__(self) -> int:
        return len(self._records)

    def __getitem__(self, task_id: str) -> Task:
        for record in self._records:
            if record.task_id == task_id:
                return Task._from_record(self._store, record)
        raise ObjectNotFound(
            f"step {self.pathspec} has no task '{task_id}'",
            f"its tasks are: {', '.join(r.task_id for r in self._records)}",
        )

    @property
    def task(self) -> Task:
        """The step's task (the first one, for a step that has several)."""
        return Task._from_record(self._store, self._records[0])

    @property
    def parent(self) -> Run:
        return self.run

    @property
    def path_components(self) -> list[str]:
        return self.pathspec.split("/")

    @property
    def tags(self) -> frozenset[str]:
        """Its run's tags (as in Metaflow, a step has its run's tags), and below its user and
        system tags."""
        return self.run.tags

    @property
    def user_tags(self) -> frozenset[str]:
        return self.run.user_tags

    @property
    def system_tags(self) -> frozenset[str]:
        return self.run.system_tags

    @property
    def origin_pathspec(self) -> str | None:
        """This step in the run this one resumed; None for a run that resumed none."""
        origin = self.run.origin_pathspec
        return None if origin is None else f"{origin}/{self.id}"

    @property
    def finished_at(self) -> datetime | None:
        """When its last task finished; None while any task has not."""
        ends = [r.finished_at for r in self._records]
        return None if None in ends else as_time(max(e for e in ends if e is not None))


def resume_hint(flow: str, run_id: str, source: str | None) -> str:
    """How to resume run ``flow/run_id`` started from the flow file ``source`` (a command,
    relative to here when that is shorter), or from a notebook (``source`` None: a call)."""
    if source is None:
        return f'flowkit.resume({flow}, origin_run_id="{run_id}")'
    relative = os.path.relpath(source)
    return f"python {source if relative.startswith('..') else relative} resume --origin-run-id {run_id}"
