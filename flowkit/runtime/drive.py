"""Driving a run that exists in the store to its end in this process: the scheduler, its
executors, heartbeat and view, and the client's ``Run`` it ends in, or :class:`RunFailed`."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from flowkit.errors import FlowkitError
from flowkit.fastdata import dataclass, field

if TYPE_CHECKING:
    from flowkit.client import Run
    from flowkit.executor.base import ExecutorFactory
    from flowkit.graph.model import FlowGraph
    from flowkit.plan.reuse import Decider
    from flowkit.runtime.alerts import Alerts
    from flowkit.runtime.api import RunOptions
    from flowkit.runtime.policy import FailurePolicy
    from flowkit.runtime.sla import SlaRules
    from flowkit.store import RunRecord, Store
    from flowkit.store.records import RunStatus
    from flowkit.task.spec import CodeRef


class RunFailed(FlowkitError):
    """A run ended without succeeding; ``run`` is its client view, ``task`` the failed task's
    pathspec (if a task failed) and the message carries the task's own traceback."""

    def __init__(
        self, message: str, hint: str, run: Run, task: str | None, *, cancelled: bool = False
    ) -> None:
        super().__init__(message, hint)
        self.run = run
        self.task = task
        self.cancelled = cancelled


@dataclass(frozen=True)
class Prepared:
    """A run created in the store and everything its scheduler needs, wherever it runs: in
    this process (:func:`drive`) or as a job of its own (``--detach``, see
    :mod:`flowkit.runtime.detach`); ``retry`` and ``alert_settings`` are the settings that
    made ``policy`` and ``alerts``, for a detached scheduler to make them again."""

    graph: FlowGraph
    store: Store
    record: RunRecord
    parameters: dict[str, tuple[str, int, str]]
    decider: Decider
    code: CodeRef
    policy: FailurePolicy
    alerts: Alerts
    factories: Mapping[str, ExecutorFactory]
    max_workers: int
    max_workers_chosen: bool = False
    retry: int = 0
    alert_settings: tuple[Mapping[str, Any], ...] = ()
    #: A resume's origin, described, when the user did not name it (see :func:`defaulted_origin`).
    resuming: str | None = None
    #: The flow's ``@sla`` and the ``sla_learned`` setting (see :mod:`flowkit.runtime.sla`).
    sla: SlaRules | None = None
    #: The run hooks it enables (name -> arguments) and their factories (see runtime.hooks).
    hooks: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    hook_factories: Mapping[str, Any] = field(default_factory=dict)


def drive(prepared: Prepared, options: RunOptions) -> Run:
    """Run the scheduler of the run ``prepared`` here to its end: the client's ``Run`` if it
    succeeded, else :class:`RunFailed`."""
    from flowkit.client import Run
    from flowkit.client.objects import resume_hint
    from flowkit.executor.base import ExecutorContext
    from flowkit.executor.registry import Executors
    from flowkit.runtime.heartbeat import Heartbeat
    from flowkit.runtime.hooks import RunHooks
    from flowkit.runtime.limits import cpu_limit
    from flowkit.runtime.scheduler import Scheduler

    store, record, graph = prepared.store, prepared.record, prepared.graph
    sink = options.progress()
    # The run exists from here on: beat before anything slow (the worker importing a big
    # flow), so that a reader never takes a run that is starting for one that crashed.
    heartbeat = Heartbeat(store, record.flow, record.run_id)
    context = ExecutorContext(
        store,
        prepared.code,
        echo=not options.quiet,
        max_workers=prepared.max_workers,
        max_workers_chosen=prepared.max_workers_chosen,
    )
    executors = Executors(context, prepared.factories)
    with contextlib.ExitStack() as cleanup:
        # Last first, each even if one before raised: the heartbeat stops after the end
        # record (a finished run never reads as crashed), the warm worker and the plug-ins'
        # executors close, then the view.
        cleanup.callback(sink.close)
        # The warm worker is kept for the next run here, unless the run ended by an
        # exception (an interrupt, an executor that could not start): then it is shut down.
        cleanup.push(lambda kind, *_: executors.close(keep_warm=kind is None))
        cleanup.callback(heartbeat.stop)
        try:
            heartbeat.start()
            executors.start()  # the warm worker and every plug-in start (or fail) before any task
            hint = resume_hint(record.flow, record.run_id, record.source)
            hooks = RunHooks(prepared.hook_factories, prepared.hooks, store, record)
            cleanup.callback(hooks.close)  # before the view closes: what they say is seen
            scheduler = Scheduler(
                graph=graph,
                store=store,
                executors=executors,
                run=record,
                code=prepared.code,
                parameters=prepared.parameters,
                sink=hooks.tee(sink),
                max_num_splits=options.max_num_splits,
                fail_fast=options.fail_fast,
                resume_hint=lambda: hint,
                decider=prepared.decider,
                policy=prepared.policy,
                alerts=prepared.alerts,
                resuming=prepared.resuming,
                limit=cpu_limit(graph, prepared.policy, prepared.max_workers),
                client_namespace=options.namespace,
                sla=prepared.sla,
                hooks=prepared.hooks,
            )
        except BaseException as exc:
            end_unstarted(store, record, exc)
            raise
        result = scheduler.execute()  # from here on, the scheduler writes the end record
        if result.status == "cancelled":  # interrupted: nothing of it outlives the run
            executors.close(keep_warm=False)
    client_run = Run(f"{record.flow}/{record.run_id}", store=store, _namespace_check=False)
    if result.status == "succeeded":
        return client_run
    failed = result.failures[0] if result.failures else None
    if result.status == "cancelled":
        message = f"run {client_run.pathspec} was cancelled"
    elif failed is not None and failed.exception is not None:
        raised = str(failed.exception)
        if failed.exception.traceback.startswith("Traceback"):  # frames of the user's to show
            # the traceback ends with the whole exception: its first line is enough here
            # (a papermill step's message holds the cell's traceback, said once, below)
            raised = raised.splitlines()[0] + f"\n{failed.exception.traceback}".rstrip()
        message = f"run {client_run.pathspec} failed: task {failed.pathspec} raised {raised}"
    else:
        message = f"run {client_run.pathspec} failed: {result.message}"
    cancelled = result.status == "cancelled"
    raise RunFailed(
        message,
        f"{'nothing finished is lost' if cancelled else 'fix the cause'}, then resume: {hint}",
        client_run,
        failed.pathspec if failed else None,
        cancelled=cancelled,
    )


def end_unstarted(store: Store, record: RunRecord, exc: BaseException) -> None:
    """Give a run that could not start its end record, so that it reads as failed (or
    cancelled), not as crashed; the caller raises the error that stopped it."""
    if isinstance(exc, KeyboardInterrupt):
        status: RunStatus = "cancelled"
        why = "cancelled by the user before it started"
    else:
        status = "failed"
        why = f"the run could not start: {getattr(exc, 'message', None) or exc}"
    with contextlib.suppress(FlowkitError, OSError):  # the store may be why: keep that error
        store.records.end_run(record.flow, record.run_id, status, message=why)
