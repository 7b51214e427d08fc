"""``--detach``: the run's scheduler runs as a job of the run's executor, not here.

:func:`detach` stores what the scheduler needs (a :class:`DriverSpec`, by content, like a
task's spec) and asks the executor to run ``python -m flowkit.driver STORE KEY``
(:data:`~flowkit.executor.base.DRIVER_MODULE`); the run
is in the store already, so ``flowkit runs/show/logs`` and the client follow it from
anywhere that reaches the store. :func:`drive_stored` is that job: it makes the run's graph,
policy and executors again from the run's code package and the spec, then drives the run
exactly as :func:`flowkit.runtime.drive.drive` does in a terminal.

An executor can take the scheduler when its factory has a ``detach`` method (see
:class:`flowkit.executor.base.Detaches`). Until the job starts (it may wait in the cluster's
queue), the run's lease says it is alive for :data:`QUEUED_LEASE_SECONDS`.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, cast

from flowkit.errors import FlowkitError
from flowkit.executor.base import Detaches, ExecutorContext
from flowkit.executor.registry import LOCAL, executor_of
from flowkit.fastdata import asdict, dataclass, field
from flowkit.runtime.api import RunOptions
from flowkit.runtime.drive import Prepared, drive, end_unstarted
from flowkit.runtime.events import ProgressSink, RunDetached
from flowkit.runtime.origin import stored_configs

if TYPE_CHECKING:
    from flowkit.client import Run
    from flowkit.store import Store

#: How long a detached run reads as running before its scheduler's job first beats: the job
#: may wait in the cluster's queue. A job that never starts leaves the run reading as
#: crashed after this.
QUEUED_LEASE_SECONDS = 3600.0


@dataclass(frozen=True)
class DriverSpec:
    """What a detached scheduler needs besides the store and the run's code package."""

    flow: str
    run_id: str
    code: dict[str, Any]
    parameters: dict[str, tuple[str, int, str]]
    origin_run_id: str | None
    restart_step: str | None
    reuse: bool
    max_workers: int
    max_workers_chosen: bool
    max_num_splits: int
    fail_fast: bool
    with_decorators: list[str]
    retry: int
    quiet: bool = False
    alerts: list[dict[str, Any]] = field(default_factory=list)
    namespace: str | None = None
    #: The ``sla_learned`` setting where the run was started.
    sla_learned: bool = True

    def to_json(self) -> str:
        return json.dumps({"driver": asdict(self)}, sort_keys=True, separators=(",", ":"))

    @staticmethod
    def from_json(text: str, where: str) -> DriverSpec:
        try:
            data = json.loads(text)["driver"]
            data["parameters"] = {k: tuple(v) for k, v in data["parameters"].items()}
            return DriverSpec(**data)
        except (ValueError, KeyError, TypeError) as exc:
            raise FlowkitError(
                f"{where} is not a detached run's scheduler spec ({exc})",
                "give python -m flowkit.driver the key that --detach stored",
            ) from None


def detach(prepared: Prepared, options: RunOptions) -> Run:
    """Submit the scheduler of the created run ``prepared`` as a job of its executor and
    return its client ``Run`` at once; the run ends as failed if the submission fails."""
    from flowkit.client import Run

    store, record = prepared.store, prepared.record
    try:
        name, detaches = _detacher(prepared)
        spec = DriverSpec(
            flow=record.flow,
            run_id=record.run_id,
            code=asdict(prepared.code),
            parameters=dict(prepared.parameters),
            origin_run_id=record.origin_run_id,
            restart_step=prepared.decider.restart_step,
            reuse=prepared.decider.reuse,
            max_workers=prepared.max_workers,
            max_workers_chosen=prepared.max_workers_chosen,
            max_num_splits=options.max_num_splits,
            fail_fast=options.fail_fast,
            with_decorators=list(options.with_decorators),
            quiet=options.quiet,
            namespace=options.namespace,
            retry=prepared.retry,
            alerts=[dict(a) for a in prepared.alert_settings],
            sla_learned=prepared.sla is None or prepared.sla.learned,
        )
        key = store.put_spec(spec.to_json())
        store.leases.renew(record.flow, record.run_id, interval=QUEUED_LEASE_SECONDS / 3)
        context = ExecutorContext(store, prepared.code, echo=False, max_workers=1)
        where = detaches.detach(context, key, _scheduler_options(prepared, name))
    except BaseException as exc:
        end_unstarted(store, record, exc)
        raise
    sink = options.progress()
    try:
        sink.handle(RunDetached(record.flow, record.run_id, store.url, name, where, time.time()))
    finally:
        sink.close()
    return Run(f"{record.flow}/{record.run_id}", store=store, _namespace_check=False)


def _detacher(prepared: Prepared) -> tuple[str, Detaches]:
    """The executor that takes the scheduler: ``--with``'s, else the one executor other
    than the local one that the flow's steps use."""
    default = prepared.policy.executor
    if default is not None:
        name = default.name
    else:
        used = sorted(
            {s.name for n in prepared.graph.ordered() if (s := executor_of(n)) is not None}
        )
        if len(used) != 1:
            raise FlowkitError(
                "--detach runs the scheduler as a job of the run's executor, and "
                + (
                    "every step of this flow runs locally"
                    if not used
                    else f"this flow's steps use several ({', '.join(used)})"
                ),
                "name the executor that should run it: --with slurm (or --with NAME:ARG=VALUE)",
            )
        name = used[0]
    factory = prepared.factories[name]
    if name == LOCAL or not callable(getattr(factory, "detach", None)):
        raise FlowkitError(
            f"the '{name}' executor cannot run a detached scheduler",
            "drop --detach, or use an executor that can (--with slurm)",
        )
    return name, cast(Detaches, factory)


def _driver_spec(store: Store, key: str) -> DriverSpec:
    """The spec stored under ``key``; a key that is malformed or names nothing says so (not
    that the store is damaged)."""
    from flowkit.store import InvalidKeyError

    try:
        stored = store.values.has(key)
    except InvalidKeyError:
        stored = False
    if not stored:
        raise FlowkitError(
            f"no detached run's scheduler spec '{key}' in the store at {store.url}",
            "give python -m flowkit.driver the key that --detach stored, and the store as "
            "this machine reaches it",
        )
    return DriverSpec.from_json(store.get_spec(key), f"{store.url} spec {key}")


def _scheduler_options(prepared: Prepared, name: str) -> dict[str, Any]:
    """The executor's options for the scheduler's job: ``--with``'s, else those every step
    on that executor gives alike (``@slurm(account="ml", python=...)`` on each: the job needs
    the same account and interpreter; options the steps differ on are the steps' own)."""
    default = prepared.policy.executor
    if default is not None:
        return dict(default.args)
    given = [
        dict(spec.args)
        for node in prepared.graph.ordered()
        if (spec := executor_of(node)) is not None and spec.name == name
    ]
    return {k: v for k, v in given[0].items() if all(g.get(k, object()) == v for g in given)}


def drive_stored(store: Store, key: str, progress: Callable[[bool], ProgressSink]) -> Run:
    """Drive the detached run whose :class:`DriverSpec` is stored under ``key``, reporting
    to the view ``progress(quiet)`` makes: what ``python -m flowkit.driver STORE KEY``
    does."""
    from flowkit.authoring.configure import configure
    from flowkit.client.objects import resume_hint
    from flowkit.executor.registry import load_executors
    from flowkit.lint.api import check
    from flowkit.plan.reuse import Decider
    from flowkit.runtime.alerts import alerts_for
    from flowkit.runtime.policy import FailurePolicy, parse_with
    from flowkit.runtime.sla import sla_rules
    from flowkit.task.code import load_flow_class
    from flowkit.task.spec import CodeRef

    spec = _driver_spec(store, key)
    record = store.records.get_run(spec.flow, spec.run_id)
    if store.records.get_run_end(spec.flow, spec.run_id) is not None:
        raise FlowkitError(
            f"run {spec.flow}/{spec.run_id} has ended already: its scheduler ran before",
            f"resume it to run it again: {resume_hint(record.flow, record.run_id, record.source)}",
        )
    if store.leases.scheduler_gone(spec.flow, spec.run_id, record.created_at):
        # it waited in the queue past its lease: readers took the run for crashed, and it
        # may have been resumed since; driving it now would run its tasks a second time
        error = FlowkitError(
            f"run {spec.flow}/{spec.run_id} was given up: its scheduler's job started more "
            f"than {QUEUED_LEASE_SECONDS / 3600:g} h after the run was submitted",
            "resume it when the cluster's queue is shorter: "
            + resume_hint(record.flow, record.run_id, record.source),
        )
        end_unstarted(store, record, error)
        raise error
    # a job started twice (a cluster that requeued it) must not drive the run twice
    store.records.claim_scheduler(spec.flow, spec.run_id)
    try:
        code = CodeRef.from_json(spec.code)
        flow_cls = load_flow_class(code, store)
        # the configs the run was started with, not their defaults
        configs = stored_configs(flow_cls, store, record.parameter_digests)
        graph = check(configure(flow_cls, configs))
        policy = FailurePolicy(parse_with(spec.with_decorators, retry_setting=spec.retry))
        origin = (
            None
            if spec.origin_run_id is None
            else store.records.get_run(spec.flow, spec.origin_run_id)
        )
        decider = Decider(
            store,
            graph,
            spec.parameters,
            origin=origin,
            restart_step=spec.restart_step,
            reuse=spec.reuse,
            defaults=policy.defaults,  # cache keys: --with catch/card change results
        )
        alerts: tuple[Mapping[str, Any], ...] = tuple(spec.alerts)
        prepared = Prepared(
            graph,
            store,
            record,
            spec.parameters,
            decider,
            code,
            policy,
            alerts_for(flow_cls, alerts),
            load_executors(graph, policy.executor),
            # the submitting machine's cores say nothing of the scheduler job's
            spec.max_workers if spec.max_workers_chosen else len(os.sched_getaffinity(0)),
            max_workers_chosen=spec.max_workers_chosen,
            retry=spec.retry,
            alert_settings=alerts,
            sla=sla_rules(flow_cls, learned=spec.sla_learned),
        )
    except BaseException as exc:  # the run would otherwise read as running for an hour
        end_unstarted(store, record, exc)
        raise
    options = RunOptions(
        lambda: progress(spec.quiet),
        quiet=spec.quiet,
        max_num_splits=spec.max_num_splits,
        fail_fast=spec.fail_fast,
        with_decorators=spec.with_decorators,
        namespace=spec.namespace,
    )
    return drive(prepared, options)
