"""Starting a run: lint, settle parameters, create the run, drive it to its end, and return
the client's ``Run`` (or, with ``dry_run``, what would happen). :mod:`flowkit.surfaces.api`
holds the public ``flowkit.run``/``flowkit.resume`` that call it."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Literal, overload

from flowkit.errors import FlowkitError
from flowkit.fastdata import dataclass
from flowkit.plan.tasks import MAX_NUM_SPLITS
from flowkit.runtime.drive import Prepared, RunFailed, drive, end_unstarted
from flowkit.runtime.origin import (
    check_origin_kept,
    defaulted_origin,
    find_origin,
    pick_origin,
    stored_configs,
)
from flowkit.runtime.run_id_file import RunIdFiles
from flowkit.runtime.settle import (
    check_new_run_id,
    configured_flow,
    create_run_record,
    flow_source,
    project_tags,
    settle_parameters,
)

if TYPE_CHECKING:
    from flowkit.client import Run
    from flowkit.executor.warm import Spare
    from flowkit.graph.model import FlowGraph
    from flowkit.runtime.events import ProgressSink
    from flowkit.store import RunRecord, Store

__all__ = [
    "FlowLike",
    "Prepared",
    "Preview",
    "RunFailed",
    "RunOptions",
    "drive",
    "end_unstarted",
    "start",
    "stored_configs",
]


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
    #: A deployed flow's code package, stored already (a ``CodeRef``): the run runs it, not
    #: a new snapshot of the files (``flowkit scheduler``'s runs). None: snapshot them now.
    code: Any = None
    #: System tags besides ``@project``'s (the scheduler's: what fired the run).
    system_tags: Iterable[str] = ()


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
    from flowkit.executor import warm

    # A run that may fork its tasks here starts its worker first, which imports while the
    # run lints, plans and snapshots its code (the hello it waits for names that code).
    with warm.spare(not (dry_run or options.detach)) as spare:
        return _start(
            flow,
            params,
            options,
            spare,
            reuse=reuse,
            resume_from=resume_from,
            restart_step=restart_step,
            dry_run=dry_run,
        )


def _start(
    flow: FlowLike,
    params: dict[str, Any],
    options: RunOptions,
    spare: Spare,
    *,
    reuse: bool,
    resume_from: str | None,
    restart_step: str | None,
    dry_run: bool,
) -> Run | Preview:
    from flowkit.authoring.environment import environment_warning
    from flowkit.authoring.loader import load_flow_file
    from flowkit.client.tags import check_tag_count, check_tags
    from flowkit.executor.registry import LOCAL, load_executors
    from flowkit.lint.api import check
    from flowkit.plan.reuse import Decider
    from flowkit.runtime.alerts import alerts_for
    from flowkit.runtime.hooks import enabled_hooks, load_hooks, split_with
    from flowkit.runtime.policy import FailurePolicy, parse_with
    from flowkit.runtime.sla import sla_rules
    from flowkit.settings import Settings
    from flowkit.store import Store, UnsharedStoreError, open_store
    from flowkit.task.code import code_ref_for

    # the tag rules of Run.add_tag: a tag refused here could not be removed later
    tags = sorted(check_tags(options.tags, "the run's tags (--tag)"))
    flow_cls = flow if isinstance(flow, type) else load_flow_file(os.fspath(flow))
    check_tag_count(len(tags), f"{flow_cls.__name__}'s new run")
    settings = Settings.resolve(
        {
            "store": options.store if isinstance(options.store, str) else None,
            "max_workers": options.max_workers,
        }
    )
    spare.leave_parked(settings.worker_linger)  # at a command line's exit (off by default)
    where = options.store if isinstance(options.store, Store) else settings
    # A resume's origin, picked once: its configs shape the flow, its tasks are cloned.
    resumed_in = None if resume_from is None else open_store(where)
    picked = None
    if resumed_in is not None:
        picked = pick_origin(resumed_in, flow_cls.__name__, resume_from or "")
    # Configs first: decorators and parameter defaults may be expressions over them.
    configured, params = configured_flow(flow_cls, params, resumed_in, picked)
    graph = check(configured)
    warned = environment_warning(flow_cls)  # @conda/@pypi: once, where the packages come from
    if warned:
        sys.stderr.write(f"warning: {warned}\n")
    with_items, with_hooks = split_with(options.with_decorators)
    policy = FailurePolicy(parse_with(with_items, retry_setting=settings.retry))
    hooks = enabled_hooks(flow_cls, settings.hooks, with_hooks)
    hook_factories = load_hooks(hooks)  # installed and loading, or nothing runs
    # Every executor the run needs is installed and loads, or nothing runs.
    executors = load_executors(graph, policy.executor)
    if LOCAL not in executors:
        spare.drop()  # no task forks here
    alerts = alerts_for(flow_cls, settings.alerts)
    sla = sla_rules(flow_cls, learned=settings.sla_learned)  # before the run: it may refuse
    the_store = open_store(where) if resumed_in is None else resumed_in  # opened once
    if not (dry_run or the_store.shared):  # every executor runs tasks in other processes
        raise UnsharedStoreError(the_store.url)
    id_files = RunIdFiles(options.run_id_file, options.runner_attribute_file)
    if not dry_run:
        id_files.check()
        if options.run_id is not None:
            check_new_run_id(the_store, graph.name, options.run_id)
    origin = None if resume_from is None else find_origin(the_store, graph, picked)
    if restart_step is not None and restart_step not in graph.steps:
        raise FlowkitError(
            f"{graph.name} has no step '{restart_step}' to resume from",
            f"its steps are: {', '.join(s.name for s in graph.ordered())}",
        )
    parameters, shown = settle_parameters(configured, the_store, params, origin)
    decider = Decider(
        the_store,
        graph,
        parameters,
        origin=origin,
        restart_step=restart_step,
        reuse=reuse,
        defaults=policy.defaults,  # cache keys: --with catch/card change results
        notebook=options.notebook,
    )
    if dry_run:
        return _preview(graph, the_store, decider, parameters, origin)
    # The code as it is now: every task runs this snapshot, whatever is edited meanwhile.
    code = options.code if options.code is not None else code_ref_for(flow_cls, the_store)
    record = create_run_record(
        the_store,
        graph,
        parameters,
        shown,
        code_digest=code.target,
        tags=tags,
        system_tags=(*project_tags(configured, options), *options.system_tags),
        source=flow_source(flow_cls, notebook=options.notebook),
        origin_run_id=origin.run_id if origin else None,
        run_id=options.run_id,
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
        check_origin_kept(the_store, record, origin)
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
        resuming=defaulted_origin(origin) if origin is not None and not resume_from else None,
        sla=sla,
        hooks=hooks,
        hook_factories=hook_factories,
    )
    if options.detach:
        from flowkit.runtime.detach import detach

        if hooks:  # the detached scheduler tells none (see runtime.hooks)
            sys.stderr.write(
                f"warning: a detached run tells no run hook ({', '.join(sorted(hooks))}): "
                f"{record.flow}/{record.run_id} is not logged by them; log it once it ends "
                "as their package says (flowkit-mlflow: flowkit mlflow sync FLOW/RUN)\n"
            )

        return detach(prepared, options)
    return drive(prepared, options)


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
