"""Running one task attempt in this process: the only place user code runs.

Build the step's ``self`` (parameters, inherited artifacts or a join's ``inputs``, foreach
frames), call the step, check its ``self.next`` against the graph, store what it assigned
and write the attempt's final record. A user exception becomes a failed record with the
user's frames only; the caller turns the result into the process's exit status.
"""

from __future__ import annotations

import sys
import time
import traceback
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flowkit.authoring.current import TaskContext, bound
from flowkit.authoring.flowspec import FlowSpecBase, Transition, bind_parameters
from flowkit.authoring.join import Inputs
from flowkit.authoring.parameters import PARAMETERS_ATTR
from flowkit.errors import FlowDefinitionError
from flowkit.graph.compat import metaflow_graph
from flowkit.plan.tasks import Branch
from flowkit.task.cards import TaskCards
from flowkit.task.caught import CaughtFailure, qualified_name
from flowkit.task.foreach import ChunkCache, ForeachFrames, freeze, store_items
from flowkit.task.outcome import EXIT_FAILED, EXIT_OK
from flowkit.task.spec import TaskSpec
from flowkit.task.started import StartRecord
from flowkit.task.timeout import TaskTimedOut, step_timeout

if TYPE_CHECKING:
    from flowkit.store import Store, TaskRecord
    from flowkit.store.records import ArtifactRef, ExceptionInfo

_FLOWKIT_DIR = str(Path(__file__).resolve().parent.parent)


def run_task(spec: TaskSpec, store: Store, flow_cls: type) -> int:
    """Run ``spec`` and write its records; the exit status the process should end with."""
    record = store.records.new_attempt(
        spec.flow, spec.run_id, spec.step, spec.task_id, **spec.attempt_fields()
    )
    started = StartRecord(store, record)
    cards = TaskCards(spec, store, flow_cls)
    flow: FlowSpecBase | None = None
    try:
        with cards.collecting():
            flow = step_self(spec, store, flow_cls)
            final = _run(spec, store, flow, record)
    except BaseException as exc:
        info = exception_info(exc)
        sys.stderr.write(info.traceback)
        # what the step set before it raised is kept (Metaflow keeps it): @catch passes it on
        kept = _kept(flow, store, spec) if flow is not None and isinstance(exc, Exception) else {}
        started.settle()
        failed = record.finished(
            "failed",
            exception=info,
            exit_code=EXIT_FAILED,
            path=tuple(tuple(b.to_json()) for b in spec.path),
            failure="timeout" if isinstance(exc, TaskTimedOut) else "error",
            artifacts=kept,
        )
        store.records.finish_task(cards.attach(failed))
        return EXIT_FAILED
    started.settle()
    store.records.finish_task(cards.attach(final))
    return EXIT_OK


def step_self(spec: TaskSpec, store: Store, flow_cls: type) -> FlowSpecBase:
    """The ``self`` a step gets: its parameters and foreach frames, no artifacts yet. Its
    class is configured with the run's configs, as the run's was (mutators, user decorators)."""
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


def run_step(spec: TaskSpec, store: Store, flow: FlowSpecBase, parents: list[TaskRecord]) -> None:
    """:func:`call_step` on a ``self`` built already (what it set is there if it raises)."""
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
    )
    with bound(ctx):
        if spec.contract.takes_inputs:
            chunks = ChunkCache(store)  # branches of one split share their chunks
            params = flow.__dict__[PARAMETERS_ATTR]
            inputs = Inputs(
                [_input_flow(flow_cls, store, r, spec, chunks, params) for r in parents]
            )
            with step_timeout(spec.timeout, spec.step):
                _call_wrapped(spec, func, flow, inputs)
        else:
            for parent in parents:
                flow._flowkit_inherit(store.values.artifact_source(parent))
            with step_timeout(spec.timeout, spec.step):
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


def _run(spec: TaskSpec, store: Store, flow: FlowSpecBase, record: TaskRecord) -> TaskRecord:
    parents = _input_records(spec, store)
    if spec.catch is not None:
        return _caught(spec, store, flow, parents, record)
    run_step(spec, store, flow, parents)
    if spec.catch_var is not None:
        flow.__dict__[spec.catch_var] = None  # no exception to catch (as Metaflow says it)
    transition = _checked_transition(flow, spec)
    foreach: dict[str, Any] = {}
    if transition is not None and transition.foreach is not None:
        foreach = _fan_out(flow, store, spec, (transition.file, transition.line))
    artifacts = _persist(flow, store, spec)
    return record.finished(
        "succeeded",
        artifacts=artifacts,
        exit_code=EXIT_OK,
        next_steps=transition.targets if transition else (),
        path=tuple(tuple(b.to_json()) for b in spec.path),
        finished_at=time.time(),
        **foreach,
    )


def _fan_out(
    flow: FlowSpecBase, store: Store, spec: TaskSpec, where: tuple[str | None, int | None]
) -> dict[str, Any]:
    """Freeze the foreach's items and store them: the record fields that name them."""
    attr = str(spec.contract.foreach)
    value = getattr(flow, attr)
    items = freeze(value, attr, limit=spec.max_num_splits, step=spec.step, where=where)
    if iter(value) is value:  # a generator or iterator: consumed, and it cannot be stored
        flow.__dict__[attr] = items
    return {
        "foreach_count": len(items),
        "foreach_items": store_items(store, items, attr, step=spec.step),
    }


def _caught(
    spec: TaskSpec, store: Store, flow: FlowSpecBase, parents: list[TaskRecord], record: TaskRecord
) -> TaskRecord:
    """The attempt ``@catch`` adds: no user code runs; the failure goes into ``var``, what
    the failed attempt had set passes on (as Metaflow keeps it; what the step inherited when
    that attempt died without storing anything, and a join inherits nothing), and the flow
    takes the step's normal transition."""
    from flowkit.store.records import ExceptionInfo

    assert spec.catch is not None
    info = ExceptionInfo(
        str(spec.catch["type"]),
        str(spec.catch["message"]),
        str(spec.catch.get("traceback") or ""),
        str(spec.catch.get("qualified_type") or ""),
    )
    caught = caught_failure(info, spec.catch.get("failure"))
    failed = _failed_attempt(spec, store)
    if failed is not None and failed.artifacts:
        flow._flowkit_inherit(store.values.artifact_source(failed))
    elif not spec.contract.takes_inputs:
        for parent in parents:
            flow._flowkit_inherit(store.values.artifact_source(parent))
    var = spec.catch.get("var")  # without one, the failure is not stored (as in Metaflow)
    if spec.catch.get("print") == "yes":
        what = f"stored in '{var}'" if var else "caught"
        sys.stderr.write(f"@catch {what}: {caught.type}: {caught.message}\n")
    if var:
        flow.__dict__[var] = caught
    contract = spec.contract
    foreach: dict[str, Any] = {}
    if contract.transition == "switch":
        raise FlowDefinitionError(
            f"step '{spec.step}' failed and its @catch cannot choose a switch case for it",
            "put @catch on a step before or after the switch, not on the switch itself",
            step=spec.step,
        )
    if contract.transition == "foreach":
        if contract.foreach not in flow.__dict__["_flowkit_refs"]:
            raise FlowDefinitionError(
                f"step '{spec.step}' failed before setting '{contract.foreach}', so its "
                "@catch has nothing to fan out over",
                "put @catch on the foreach's branches instead of the step that fans out",
                step=spec.step,
            )
        code = getattr(type(flow), spec.step).__code__
        foreach = _fan_out(flow, store, spec, (code.co_filename, code.co_firstlineno))
    return record.finished(
        "caught",
        artifacts=_persist(flow, store, spec),
        exit_code=EXIT_OK,
        exception=info,
        failure=caught.failure,
        next_steps=contract.targets if contract.transition != "end" else (),
        path=tuple(tuple(b.to_json()) for b in spec.path),
        finished_at=time.time(),
        **foreach,
    )


def _failed_attempt(spec: TaskSpec, store: Store) -> TaskRecord | None:
    """The attempt whose failure ``spec.catch`` stores."""
    assert spec.catch is not None
    attempt = spec.catch.get("attempt")
    if attempt is None:  # a spec from before it was named
        return None
    return store.records.get_attempt(spec.flow, spec.run_id, spec.step, spec.task_id, int(attempt))


def caught_failure(info: ExceptionInfo, failure: str | None) -> CaughtFailure:
    """What ``@catch`` stores for a failed attempt's exception (named as Metaflow names it)."""
    return CaughtFailure(info.qualified_type or info.type, info.message, info.traceback, failure)


def exception_info(exc: BaseException) -> ExceptionInfo:
    """``exc`` as a record keeps it: type, message, the user's frames of its traceback."""
    from flowkit.store.records import ExceptionInfo

    cls = type(exc)
    return ExceptionInfo(cls.__name__, _message(exc), user_traceback(exc), qualified_name(cls))


def _kept(flow: FlowSpecBase, store: Store, spec: TaskSpec) -> dict[str, ArtifactRef]:
    """What a failed attempt had set, stored, all or nothing: a value that cannot be stored
    is said on stderr, and the attempt's own exception stays the one its record gives."""
    try:
        return _persist(flow, store, spec)
    except Exception as exc:  # reported: the step's own failure is the news
        sys.stderr.write(
            f"flowkit: what step '{spec.step}' set before it failed was not stored: "
            f"{_message(exc)}\n"
        )
        return {}


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


def _persist(flow: FlowSpecBase, store: Store, spec: TaskSpec) -> dict[str, Any]:
    """What the task assigned is stored; what it did not touch, and the run's parameters,
    are named by reference."""
    from flowkit.store.records import ArtifactRef

    values = {k: v for k, v in flow.__dict__.items() if not k.startswith("_")}
    refs = dict(store.values.put_artifacts(values, step=spec.step))
    for name, source in flow.__dict__["_flowkit_refs"].items():
        if name not in refs:
            refs[name] = source.ref(name)
    # the run's own values: a parent cloned from an earlier run may carry that run's values
    for attr, (digest, size, kind) in spec.parameters.items():
        refs[attr] = ArtifactRef(digest, size, kind)
    return refs


def _message(exc: BaseException) -> str:
    render = getattr(exc, "render", None)
    return str(render()) if callable(render) else str(exc)


def user_traceback(exc: BaseException) -> str:
    """The traceback of ``exc`` with flowkit's own frames left out (and notebook cells named
    as Jupyter names them)."""
    from flowkit.graph.source import display_name

    frames = [
        f
        for f in traceback.extract_tb(exc.__traceback__)
        if not f.filename.startswith(_FLOWKIT_DIR)
    ]
    for frame in frames:
        frame.filename = display_name(frame.filename)
    # flowkit's own checks after the step returned leave no frame of the user's to show
    lines = (
        ["Traceback (most recent call last):\n", *traceback.format_list(frames)] if frames else []
    )
    lines += traceback.format_exception_only(type(exc), exc)
    return "".join(lines)
