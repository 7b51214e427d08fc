"""Running one task attempt in this process: the only place user code runs.

Build the step's ``self`` (parameters, inherited artifacts or a join's ``inputs``, foreach
frames), call the step, check its ``self.next`` against the graph, store what it assigned
and write the attempt's final record. A user exception becomes a failed record with the
user's frames only; the caller turns the result into the process's exit status.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from flowkit.authoring import metrics
from flowkit.authoring.current import TaskContext, bound
from flowkit.authoring.flowspec import FlowSpecBase, Transition, bind_parameters
from flowkit.authoring.join import Inputs
from flowkit.authoring.parameters import PARAMETERS_ATTR
from flowkit.client.namespace import namespace
from flowkit.client.provider import read_from
from flowkit.client.trigger import Trigger
from flowkit.errors import FlowDefinitionError
from flowkit.graph.compat import metaflow_graph
from flowkit.plan.tasks import Branch
from flowkit.task.cards import TaskCards
from flowkit.task.failure import caught_attempt, failed_record
from flowkit.task.foreach import ChunkCache, ForeachFrames
from flowkit.task.outcome import EXIT_FAILED, EXIT_OK
from flowkit.task.persist import fan_out, persist
from flowkit.task.spec import TaskSpec
from flowkit.task.started import StartRecord
from flowkit.task.timeout import TaskTimedOut, grace_left, step_timeout

if TYPE_CHECKING:
    from flowkit.store import Store, TaskRecord


def run_task(spec: TaskSpec, store: Store, flow_cls: type) -> int:
    """Run ``spec`` and write its records; the exit status the process should end with."""
    began = time.monotonic()
    _client_follows_the_run(spec, store)
    record = store.records.new_attempt(
        spec.flow, spec.run_id, spec.step, spec.task_id, **spec.attempt_fields()
    )
    started = StartRecord(store, record)
    cards = TaskCards(spec, store, flow_cls)
    flow: FlowSpecBase | None = None
    try:
        with cards.collecting():
            flow = step_self(spec, store, flow_cls)
            final = _run(spec, store, flow, record, began)
    except BaseException as exc:
        failed = failed_record(spec, store, flow, record, exc)
        started.settle()
        # a timed-out step's cards render within the grace the scheduler gives it to end
        within = grace_left(spec.timeout, began) if isinstance(exc, TaskTimedOut) else None
        store.records.finish_task(cards.attach(failed, within=within))
        return EXIT_FAILED
    started.settle()
    store.records.finish_task(final if final.cards else cards.attach(final))
    return EXIT_OK


def _client_follows_the_run(spec: TaskSpec, store: Store) -> None:
    """In this task's process, the client (``Flow("Other").latest_run`` in a step) reads the
    run's store, wherever the settings point, and ``run --namespace``'s namespace if given.
    (Imported with this module, so the warm worker imports them once, not each task.)"""
    read_from(store)
    if spec.client_namespace is not None:
        namespace(spec.client_namespace or None)


def step_self(spec: TaskSpec, store: Store, flow_cls: type) -> FlowSpecBase:
    """The ``self`` a step gets: its parameters and foreach frames, no artifacts yet. Its
    class is configured with the run's configs, as the run's was (mutators, user decorators),
    unless ``flow_cls`` is configured already (the warm worker's, made once for all its
    tasks), which is used as it is."""
    from flowkit.authoring.configure import configure_from

    params = StoredParameters(store, spec.parameters)
    flow: FlowSpecBase = configure_from(flow_cls, params)(use_cli=False)
    flow.__dict__["_flowkit_step_name"] = spec.step
    bind_parameters(flow, params)
    flow.__dict__["_flowkit_frames"] = ForeachFrames(store, spec.flow, spec.run_id, spec.path)
    return flow


class StoredParameters(Mapping[str, Any]):
    """The run's parameter values, each loaded from the store when the step first reads it
    (most steps read none: a round trip saved per parameter on a remote store)."""

    def __init__(self, store: Store, refs: Mapping[str, tuple[str, int, str]]) -> None:
        self._store, self._refs = store, refs
        self._values: dict[str, Any] = {}

    def __getitem__(self, attr: str) -> Any:
        if attr not in self._values:
            digest = self._refs[attr][0]
            self._values[attr] = self._store.values.load(digest, owner=f"parameter '{attr}'")
        return self._values[attr]

    def __contains__(self, attr: object) -> bool:
        return attr in self._refs

    def __iter__(self) -> Iterator[str]:
        return iter(self._refs)

    def __len__(self) -> int:
        return len(self._refs)


def call_step(
    spec: TaskSpec, store: Store, flow_cls: type, parents: list[TaskRecord]
) -> FlowSpecBase:
    """Run the step's code (as ``flow_cls`` has it) under ``current``, on what ``parents``
    passed on: their artifacts, or for a join their flows as ``inputs``. What the step
    assigned stays on the returned ``self``; its exceptions propagate unchanged."""
    flow = step_self(spec, store, flow_cls)
    run_step(spec, store, flow, parents)
    return flow


def run_step(
    spec: TaskSpec,
    store: Store,
    flow: FlowSpecBase,
    parents: list[TaskRecord],
    began: float | None = None,
) -> None:
    """:func:`call_step` on a ``self`` built already (what it set is there if it raises).
    A ``@timeout`` counts from ``began`` (the attempt's start, as the scheduler counts it)."""
    flow_cls = type(flow)
    func = getattr(flow_cls, spec.step)
    ctx = TaskContext(
        spec.flow,
        spec.run_id,
        spec.step,
        spec.task_id,
        spec.attempt,
        spec.origin_run_id,
        spec.user,
        tags=spec.tags,
        system_tags=spec.system_tags,
        parameter_names=tuple(sorted(spec.parameters)),
        graph_info=lambda: metaflow_graph(flow_cls).info(),
        trigger=lambda: Trigger.from_tags(spec.system_tags),
        hooks=spec.hooks,
    )
    metrics.start()  # what an earlier task in this process logged is not this one's
    with bound(ctx):
        if spec.contract.takes_inputs:
            chunks = ChunkCache(store)  # branches of one split share their chunks
            params = flow.__dict__[PARAMETERS_ATTR]
            inputs = Inputs(
                [_input_flow(flow_cls, store, r, spec, chunks, params) for r in parents]
            )
            with step_timeout(spec.timeout, spec.step, began):
                _call_wrapped(spec, func, flow, inputs)
        else:
            for parent in parents:
                flow._flowkit_inherit(store.values.artifact_source(parent))
            with step_timeout(spec.timeout, spec.step, began):
                _call_wrapped(spec, func, flow, None)


def _call_wrapped(spec: TaskSpec, func: Any, flow: FlowSpecBase, inputs: Inputs | None) -> None:
    """The step through its user step decorators; when one skipped or replaced it (or
    swallowed its exception), ``self.next`` is called as the graph says."""
    from flowkit.authoring.user_decorators import call_wrapped

    skipped = call_wrapped(spec.step, func, flow, inputs)
    contract = spec.contract
    if skipped is None or contract.transition == "end":
        return
    if contract.transition == "switch":
        raise FlowDefinitionError(
            f"a user step decorator skipped step '{spec.step}', a switch, so no case was chosen",
            "let the switch step run; skip the steps of its cases instead",
            step=spec.step,
        )
    flow.__dict__["_flowkit_transition"] = None
    args = {"foreach": contract.foreach} if contract.transition == "foreach" else {}
    flow.next(*(getattr(flow, t) for t in contract.targets), **{**args, **skipped.next_args})


def _run(
    spec: TaskSpec, store: Store, flow: FlowSpecBase, record: TaskRecord, began: float
) -> TaskRecord:
    parents = _input_records(spec, store)
    if spec.catch is not None:
        return caught_attempt(spec, store, flow, parents, record)
    run_step(spec, store, flow, parents, began)
    if spec.catch_var is not None:
        flow.__dict__[spec.catch_var] = None  # no exception to catch (as Metaflow says it)
    transition = _checked_transition(flow, spec)
    foreach: dict[str, Any] = {}
    if transition is not None and transition.foreach is not None:
        foreach = fan_out(flow, store, spec, (transition.file, transition.line))
    artifacts = persist(flow, store, spec)
    return record.finished(
        "succeeded",
        artifacts=artifacts,
        exit_code=EXIT_OK,
        next_steps=transition.targets if transition else (),
        path=tuple(tuple(b.to_json()) for b in spec.path),
        finished_at=time.time(),
        **foreach,
    )


def _input_records(spec: TaskSpec, store: Store) -> list[TaskRecord]:
    wanted = [(step, task, int(attempt)) for step, task, attempt in map(_split, spec.inputs)]
    parents = []
    for (step, task_id, attempt), record in zip(
        wanted, store.records.get_attempts(spec.flow, spec.run_id, wanted), strict=True
    ):
        if record is None or not record.successful:
            raise RuntimeError(
                f"input task {step}/{task_id} (attempt {attempt}) of {spec.pathspec} "
                "has not succeeded"
            )
        parents.append(record)
    return parents


def _split(ref: str) -> tuple[str, str, str]:
    step, task_id, attempt = ref.split("/")
    return step, task_id, attempt


def _input_flow(
    flow_cls: type,
    store: Store,
    record: TaskRecord,
    spec: TaskSpec,
    chunks: ChunkCache,
    parameters: Mapping[str, Any],
) -> FlowSpecBase:
    parent = flow_cls(use_cli=False)
    parent.__dict__["_flowkit_step_name"] = record.step
    bind_parameters(parent, parameters)  # ``inp.alpha`` reads the run's value, as Metaflow
    parent._flowkit_inherit(store.values.artifact_source(record))
    path = [Branch.from_json(b) for b in record.path]
    parent.__dict__["_flowkit_frames"] = ForeachFrames(store, spec.flow, spec.run_id, path, chunks)
    return parent  # type: ignore[no-any-return]


def _checked_transition(flow: FlowSpecBase, spec: TaskSpec) -> Transition | None:
    contract = spec.contract
    transition: Transition | None = flow.__dict__.get("_flowkit_transition")
    if contract.transition == "end":
        return None
    if transition is None:
        raise FlowDefinitionError(
            f"step '{spec.step}' returned without calling self.next()",
            "every path through the step must end with self.next(...)",
            step=spec.step,
        )
    allowed = set(contract.targets)
    if contract.transition == "switch":
        ok = transition.condition == contract.condition and set(transition.targets) <= allowed
    else:
        ok = transition.targets == contract.targets and transition.foreach == contract.foreach
    if not ok:
        raise FlowDefinitionError(
            f"step '{spec.step}' called self.next() with {_describe(transition)} at run time, "
            f"but its source says {contract.transition} to {', '.join(contract.targets)}",
            "make the step's last statement the only self.next() call",
            step=spec.step,
        )
    return transition


def _describe(t: Transition) -> str:
    text = ", ".join(t.targets)
    if t.foreach:
        text += f" (foreach='{t.foreach}')"
    return text
