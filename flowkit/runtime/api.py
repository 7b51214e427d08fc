"""Starting a run: lint, settle parameters, create the run, drive it to its end, and return
the client's ``Run`` (or, with ``dry_run``, what would happen). :mod:`flowkit.surfaces.api`
holds the public ``flowkit.run``/``flowkit.resume`` that call it."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

from flowkit.errors import FlowkitError
from flowkit.plan.tasks import MAX_NUM_SPLITS
from flowkit.runtime.run_id_file import RunIdFiles

if TYPE_CHECKING:
    from flowkit.client import Run
    from flowkit.executor.base import ExecutorFactory
    from flowkit.graph.model import FlowGraph
    from flowkit.plan.reuse import Decider
    from flowkit.runtime.alerts import Alerts
    from flowkit.runtime.events import ProgressSink
    from flowkit.runtime.policy import FailurePolicy
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
class Preview:
    """What a run would do (``dry_run=True``): one decision per task, and a readable summary."""

    flow: str
    origin: str | None
    decisions: list[dict[str, Any]]
    lines: list[str]

    def count(self, action: str) -> int:
        return sum(1 for d in self.decisions if d["action"] == action)

    def __str__(self) -> str:
        where = f" from {self.flow}/{self.origin}" if self.origin else ""
        head = (
            f"{self.flow}{where}: {self.count('clone')} cloned, {self.count('reuse')} reused, "
            f"{self.count('run')} to run"
        )
        return "\n".join([head, *self.lines])


@dataclass
class RunOptions:
    """How to run, as :func:`flowkit.run` and the command line were told; ``progress`` makes
    the view the run reports to (the surface that starts the run chooses it), ``notebook``
    says whether the run starts in a notebook."""

    progress: Callable[[], ProgressSink]
    store: str | Store | None = None
    max_workers: int | None = None
    max_num_splits: int = MAX_NUM_SPLITS
    fail_fast: bool = False
    quiet: bool = False
    tags: Iterable[str] = ()
    with_decorators: Iterable[str] = ()
    notebook: bool = False
    #: Submit the scheduler as a job of the run's executor and return at once (``--detach``).
    detach: bool = False
    #: The new run's id (a resume's ``--run-id``); None: a new time-sorted id.
    run_id: str | None = None
    #: Where to write the run's id (``--run-id-file``) and its id, flow and store as JSON
    #: (``--runner-attribute-file``), as soon as the run exists.
    run_id_file: str | None = None
    runner_attribute_file: str | None = None
    #: ``@project``'s branch (``--branch``) and ``--production``.
    branch: str | None = None
    production: bool = False
    #: ``--namespace``: the namespace the steps' client reads runs in (``""``: every run);
    #: None: the default, ``user:<you>``.
    namespace: str | None = None


FlowLike = type | str | os.PathLike[str]


@overload
def start(
    flow: FlowLike,
    params: dict[str, Any],
    options: RunOptions,
    *,
    reuse: bool = False,
    resume_from: str | None = None,
    restart_step: str | None = None,
    dry_run: Literal[False] = False,
) -> Run: ...


@overload
def start(
    flow: FlowLike,
    params: dict[str, Any],
    options: RunOptions,
    *,
    reuse: bool = False,
    resume_from: str | None = None,
    restart_step: str | None = None,
    dry_run: bool,
) -> Run | Preview: ...


def start(
    flow: FlowLike,
    params: dict[str, Any],
    options: RunOptions,
    *,
    reuse: bool = False,
    resume_from: str | None = None,
    restart_step: str | None = None,
    dry_run: bool = False,
) -> Run | Preview:
    from flowkit.authoring.environment import environment_warning
    from flowkit.authoring.loader import load_flow_file
    from flowkit.client.tags import check_tag_count, check_tags
    from flowkit.executor.registry import load_executors
    from flowkit.lint.api import check
    from flowkit.plan.reuse import Decider
    from flowkit.runtime.alerts import alerts_for
    from flowkit.runtime.policy import FailurePolicy, parse_with
    from flowkit.settings import Settings
    from flowkit.store import Store, UnsharedStoreError, open_store
    from flowkit.task.code import code_ref_for

    # the tag rules of Run.add_tag: a tag refused here could not be removed later
    tags = sorted(check_tags(options.tags, "the run's tags (--tag)"))
    flow_cls = flow if isinstance(flow, type) else load_flow_file(Path(flow))
    check_tag_count(len(tags), f"{flow_cls.__name__}'s new run")
    # Configs first: decorators and parameter defaults may be expressions over them.
    configured, params = _configured(flow_cls, params, options.store, resume_from)
    graph = check(configured)
    warned = environment_warning(flow_cls)  # @conda/@pypi: once, where the packages come from
    if warned:
        sys.stderr.write(f"warning: {warned}\n")
    settings = Settings.resolve(
        {
            "store": options.store if isinstance(options.store, str) else None,
            "max_workers": options.max_workers,
        }
    )
    policy = FailurePolicy(parse_with(options.with_decorators, retry_setting=settings.retry))
    # Every executor the run needs is installed and loads, or nothing runs.
    executors = load_executors(graph, policy.executor)
    alerts = alerts_for(flow_cls, settings.alerts)
    the_store = options.store if isinstance(options.store, Store) else open_store(settings)
    if not (dry_run or the_store.shared):  # every executor runs tasks in other processes
        raise UnsharedStoreError(the_store.url)
    id_files = RunIdFiles(options.run_id_file, options.runner_attribute_file)
    if not dry_run:
        id_files.check()
        if options.run_id is not None:
            _check_new_run_id(the_store, graph.name, options.run_id)
    origin = None if resume_from is None else _origin(the_store, graph, resume_from)
    if restart_step is not None and restart_step not in graph.steps:
        raise FlowkitError(
            f"{graph.name} has no step '{restart_step}' to resume from",
            f"its steps are: {', '.join(s.name for s in graph.ordered())}",
        )
    parameters, shown = _parameters(configured, the_store, params, origin)
    decider = Decider(
        the_store,
        graph,
        parameters,
        origin=origin,
        restart_step=restart_step,
        reuse=reuse,
        defaults=policy.defaults,  # cache keys: --with catch/card change results
    )
    if dry_run:
        return _preview(graph, the_store, decider, parameters, origin)
    # The code as it is now: every task runs this snapshot, whatever is edited meanwhile.
    code = code_ref_for(flow_cls, the_store)
    record = the_store.records.create_run(
        graph.name,
        parameters=shown,
        code_digest=code.target,
        tags=tags,
        steps=[s.name for s in graph.ordered()],
        origin_run_id=origin.run_id if origin else None,
        step_code={s.name: s.code for s in graph.steps.values()},
        graph={s.name: list(s.targets) for s in graph.steps.values()},
        source=_source(flow_cls, notebook=options.notebook),
        parameter_digests={attr: digest for attr, (digest, _, _) in parameters.items()},
        run_id=options.run_id,
        system_tags=_project_tags(configured, options),
    )
    try:
        id_files.write(record.flow, record.run_id, the_store.url)
    except OSError as exc:
        error = FlowkitError(
            f"could not write the id of run {record.flow}/{record.run_id}: {exc}; nothing ran",
            "give --run-id-file a path in a folder you can write to",
        )
        end_unstarted(the_store, record, error)
        raise error from None
    if origin is not None:
        _check_origin_kept(the_store, record, origin)
    prepared = Prepared(
        graph,
        the_store,
        record,
        parameters,
        decider,
        code,
        policy,
        alerts,
        executors,
        settings.max_workers,
        max_workers_chosen=settings.source["max_workers"] != "default",
        retry=settings.retry,
        alert_settings=settings.alerts,
        resuming=_defaulted(origin) if origin is not None and not resume_from else None,
    )
    if options.detach:
        from flowkit.runtime.detach import detach

        return detach(prepared, options)
    return drive(prepared, options)


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
    #: A resume's origin, described, when the user did not name it (see :func:`_defaulted`).
    resuming: str | None = None


def drive(prepared: Prepared, options: RunOptions) -> Run:
    """Run the scheduler of the run ``prepared`` here to its end: the client's ``Run`` if it
    succeeded, else :class:`RunFailed`."""
    from flowkit.client import Run
    from flowkit.client.objects import resume_hint
    from flowkit.executor.base import ExecutorContext
    from flowkit.executor.registry import Executors
    from flowkit.runtime.heartbeat import Heartbeat
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
        cleanup.callback(executors.close)
        cleanup.callback(heartbeat.stop)
        try:
            heartbeat.start()
            executors.start()  # the warm worker and every plug-in start (or fail) before any task
            hint = resume_hint(record.flow, record.run_id, record.source)
            scheduler = Scheduler(
                graph=graph,
                store=store,
                executors=executors,
                run=record,
                code=prepared.code,
                parameters=prepared.parameters,
                sink=sink,
                max_num_splits=options.max_num_splits,
                fail_fast=options.fail_fast,
                resume_hint=lambda: hint,
                decider=prepared.decider,
                policy=prepared.policy,
                alerts=prepared.alerts,
                resuming=prepared.resuming,
                client_namespace=options.namespace,
            )
        except BaseException as exc:
            end_unstarted(store, record, exc)
            raise
        result = scheduler.execute()  # from here on, the scheduler writes the end record
    client_run = Run(f"{record.flow}/{record.run_id}", store=store, _namespace_check=False)
    if result.status == "succeeded":
        return client_run
    failed = result.failures[0] if result.failures else None
    if result.status == "cancelled":
        message = f"run {client_run.pathspec} was cancelled"
    elif failed is not None and failed.exception is not None:
        message = (
            f"run {client_run.pathspec} failed: task {failed.pathspec} raised {failed.exception}"
        )
        if failed.exception.traceback.startswith("Traceback"):  # frames of the user's to show
            message += f"\n{failed.exception.traceback}".rstrip()
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


def _check_origin_kept(store: Store, record: RunRecord, origin: RunRecord) -> None:
    """Fail the resume ``record`` cleanly if a gc deleted its origin while it started.

    gc deletes a run's ``run.json``, then looks for runs created since that name it as their
    origin (and writes it back for them); a resume writes its own ``run.json``, then checks
    that its origin's is still there. Whichever comes second sees the other.
    """
    from flowkit.store import NotFoundError

    try:
        store.records.get_run(origin.flow, origin.run_id)
    except NotFoundError:
        error = FlowkitError(
            f"flowkit gc deleted run {origin.flow}/{origin.run_id} while this resume of it "
            f"was starting (as {record.flow}/{record.run_id}): nothing ran",
            "resume from a run that is still there (--origin-run-id; flowkit runs "
            f"{origin.flow} lists them), or start a new run",
        )
        end_unstarted(store, record, error)
        raise error from None


def _configured(
    flow_cls: type, params: dict[str, Any], store: str | Store | None, resume_from: str | None
) -> tuple[type, dict[str, Any]]:
    """The flow class with its config expressions evaluated under the run's configs (those
    given, else a resume's origin's, else their defaults), and ``params`` with every config's
    value settled in: a run stores its configs as it stores its parameters."""
    from flowkit.authoring.config import Settled, configs_of, resolve_configs, split_given
    from flowkit.authoring.configure import configure

    if not configs_of(flow_cls):
        return configure(flow_cls, {}), params
    given, rest = split_given(flow_cls, params)
    kept = None if resume_from is None else _origin_configs(flow_cls, store, resume_from)
    values = resolve_configs(flow_cls, given, kept)
    return configure(flow_cls, values), {**rest, **{k: Settled(v) for k, v in values.items()}}


def _origin_configs(
    flow_cls: type, where: str | Store | None, run_id: str
) -> dict[str, Any] | None:
    """The configs of the run a resume starts from, as it stored them (None: no such run
    yet, which the resume reports once it looks for its origin)."""
    from flowkit.store import open_store

    store = open_store(where)
    name = flow_cls.__name__
    origin = (
        store.records.get_run(name, run_id) if run_id else next(store.records.iter_runs(name), None)
    )
    return None if origin is None else stored_configs(flow_cls, store, origin.parameter_digests)


def stored_configs(flow_cls: type, store: Store, digests: Mapping[str, str]) -> dict[str, Any]:
    """The config values a run stored (``digests``: attribute -> blob), by attribute."""
    from flowkit.authoring.config import configs_of

    attrs = [str(c.attr) for c in configs_of(flow_cls)]
    return {
        attr: store.values.load(digests[attr], owner=f"config '{attr}'")
        for attr in attrs
        if attr in digests
    }


def _project_tags(flow_cls: type, options: RunOptions) -> tuple[str, ...]:
    """The system tags of ``@project`` (none without it)."""
    from flowkit.authoring.project import project_of
    from flowkit.settings import current_user

    info = project_of(
        flow_cls, branch=options.branch, production=options.production, user=current_user()
    )
    return () if info is None else info.system_tags


def _check_new_run_id(store: Store, flow: str, run_id: str) -> None:
    """Refuse a chosen run id that is not a valid name, that reads as a time-sorted id (it
    would claim a time it was not made at: runs sort by it) or that a run of ``flow`` has."""
    from flowkit.store import is_name, name_rule
    from flowkit.store.ids import id_time

    if not is_name(run_id):
        raise FlowkitError(f"--run-id {run_id!r} is not a valid run id", name_rule("run"))
    if id_time(run_id) is not None:
        raise FlowkitError(
            f"--run-id {run_id!r} reads as one of flowkit's time-sorted ids (26 letters and "
            "digits), which would misplace the run among the flow's runs; nothing ran",
            "choose an id of another length or with a character such as '-' or '_', or leave "
            "--run-id out to get a new time-sorted id",
        )
    if store.records.has_run(flow, run_id):
        raise FlowkitError(
            f"run {flow}/{run_id} already exists in the store at {store.url}; a run id names "
            "one run, so nothing ran",
            "give a new --run-id, or leave it out to get a new id",
        )


def _origin(store: Store, graph: FlowGraph, run_id: str) -> RunRecord:
    """The run to resume: ``run_id``, or the flow's most recent run when it is empty."""
    if run_id:
        return store.records.get_run(graph.name, run_id)
    latest = next(store.records.iter_runs(graph.name), None)
    if latest is None:
        raise FlowkitError(
            f"{graph.name} has no run to resume in the store at {store.url}",
            "run it first (python flow.py run), or pass --store where its runs are",
        )
    return latest


def _defaulted(origin: RunRecord) -> str:
    """What a resume says of the origin it took for the user: which run, whose, and when."""
    from datetime import UTC, datetime

    when = datetime.fromtimestamp(origin.created_at, tz=UTC)
    return (
        f"{origin.flow}/{origin.run_id} (the most recent run, by {origin.user or 'an unknown user'}"
        f", {when:%Y-%m-%d %H:%M:%S} UTC)"
    )


def _parameters(
    flow_cls: type, store: Store, given: dict[str, Any], origin: RunRecord | None
) -> tuple[dict[str, tuple[str, int, str]], dict[str, Any]]:
    """Each parameter as a stored value (digest, size, type), and as the run record shows it.

    On a resume, what was not given keeps the origin's value (by digest: nothing is copied).
    """
    from flowkit.authoring.parameters import parameters_of, resolve_parameters

    params = parameters_of(flow_cls)
    inherited = _origin_parameters(store, origin) if origin else {}
    by_name = {p.name: str(p.attr) for p in params}
    given_attrs = {by_name.get(k, k) for k in given}
    # Resolved once, here: tasks read the stored values, never their own environment.
    values = resolve_parameters(flow_cls, given, kept=inherited, environ=os.environ)
    stored: dict[str, tuple[str, int, str]] = {}
    shown: dict[str, Any] = {}
    for p in params:
        attr = str(p.attr)
        if attr in inherited and attr not in given_attrs:
            stored[attr] = inherited[attr]
            shown[attr] = origin.parameters.get(attr) if origin else None
            continue
        ref = store.values.put(values[attr], name=attr, step="<parameters>")
        stored[attr] = (ref.digest, ref.size, ref.type)
        shown[attr] = (
            f"<{len(values[attr])} bytes>" if isinstance(values[attr], bytes) else values[attr]
        )
    return stored, shown


def _origin_parameters(store: Store, origin: RunRecord) -> dict[str, tuple[str, int, str]]:
    """The origin run's own parameter values, as stored. Its run record names them; its start
    task may not (a resume clones it from an earlier run that had other values)."""
    from flowkit.store.records import ArtifactRef

    start: dict[str, ArtifactRef] = {}
    if "start" in store.records.list_steps(origin.flow, origin.run_id):
        for record in store.records.list_tasks(origin.flow, origin.run_id, "start"):
            start = dict(record.artifacts)
            break
    if not origin.parameter_digests:  # a run recorded before runs named their digests
        return {a: (r.digest, r.size, r.type) for a, r in start.items() if a in origin.parameters}
    values: dict[str, tuple[str, int, str]] = {}
    for attr, digest in origin.parameter_digests.items():
        ref = start.get(attr)
        if ref is None or ref.digest != digest:
            again = store.values.put(store.values.load(digest, owner=f"parameter '{attr}'"))
            ref = again if again.digest == digest else ArtifactRef(digest, again.size, again.type)
        values[attr] = (ref.digest, ref.size, ref.type)
    return values


def _preview(
    graph: FlowGraph,
    store: Store,
    decider: Any,
    parameters: dict[str, tuple[str, int, str]],
    origin: RunRecord | None,
) -> Preview:
    from flowkit.plan.preview import preview
    from flowkit.plan.reuse import summarize

    template_run = origin
    if template_run is None:
        template_run = next(store.records.iter_runs(graph.name), None)
    template = []
    if template_run is not None:
        for step in store.records.list_steps(template_run.flow, template_run.run_id):
            template += store.records.list_tasks(template_run.flow, template_run.run_id, step)
    decisions = preview(graph, decider, parameters, template)
    lines = summarize(decisions, [s.name for s in graph.ordered()])
    return Preview(graph.name, origin.run_id if origin else None, decisions, lines)


def _source(flow_cls: type, *, notebook: bool) -> str | None:
    """The flow file a user would resume the run with; None for a notebook's flow (and for a
    flow file imported into a notebook: there, the call is what to type)."""
    module = sys.modules.get(flow_cls.__module__)
    file = getattr(module, "__file__", None)
    if not isinstance(file, str) or (flow_cls.__module__ != "__main__" and notebook):
        return None
    return os.path.abspath(file)
