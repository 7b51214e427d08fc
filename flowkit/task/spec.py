"""``TaskSpec``: everything needed to run one task attempt, as plain JSON-able data.

A spec is self-contained apart from the store: it names the flow's code, the step's contract
(what its ``self.next`` may do), its input tasks and its place in the open splits, so a task
can run in a forked warm worker, in ``python -m flowkit.worker``, or on a cluster node.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from flowkit.fastdata import dataclass, field
from flowkit.graph.model import StepNode
from flowkit.plan.tasks import MAX_NUM_SPLITS, Branch


@dataclass(frozen=True)
class CodeRef:
    """Where a worker finds the flow class: a code package (the run's snapshot of its code,
    see :mod:`flowkit.task.package`), or, as older specs say, a file or module to import or a
    class blob."""

    kind: Literal["package", "file", "module", "blob"]
    target: str
    flow: str
    sys_path: tuple[str, ...] = ()
    #: The folder a package's files were snapshotted from, to name them in tracebacks.
    root: str = ""

    @staticmethod
    def from_json(data: dict[str, Any]) -> CodeRef:
        return CodeRef(
            data["kind"],
            data["target"],
            data["flow"],
            tuple(data.get("sys_path", ())),
            data.get("root", ""),
        )


@dataclass(frozen=True)
class StepContract:
    """What the graph allows a step's ``self.next`` to do."""

    transition: str
    targets: tuple[str, ...]
    takes_inputs: bool
    foreach: str | None = None
    condition: str | None = None

    @staticmethod
    def of(node: StepNode) -> StepContract:
        return StepContract(
            node.transition, node.targets, node.takes_inputs, node.foreach, node.condition
        )


@dataclass(frozen=True)
class TaskSpec:
    """One attempt of one task. ``inputs`` are ``step/task_id/attempt`` of the successful
    attempts, in the same run, whose artifacts the task receives."""

    store: str
    flow: str
    run_id: str
    step: str
    task_id: str
    attempt: int
    code: CodeRef
    contract: StepContract
    inputs: tuple[str, ...] = ()
    path: tuple[Branch, ...] = ()
    #: The most items a foreach step of this task may fan out over.
    max_num_splits: int = MAX_NUM_SPLITS
    #: Parameter attribute -> its stored value as [digest, size, type].
    parameters: dict[str, tuple[str, int, str]] = field(default_factory=dict)
    origin_run_id: str | None = None
    user: str | None = None
    #: The run's user tags and system tags, for ``current.tags`` and ``current.project_name``.
    tags: tuple[str, ...] = ()
    system_tags: tuple[str, ...] = ()
    cache_key: str | None = None
    #: Set on the attempt ``@catch`` adds after the last failure: the artifact name
    #: (``var``) and the failure (``type``, ``message``, ``traceback``, ``failure``) to store
    #: instead of running the step's code.
    catch: dict[str, str | None] | None = None
    #: The step's ``@catch(var=...)``: set to None when the step succeeds, as Metaflow does.
    catch_var: str | None = None
    #: The step's ``@timeout`` in seconds, under ``@catch``: the step's code is interrupted
    #: after it (see :mod:`flowkit.task.timeout`).
    timeout: float | None = None
    #: ``--with card``'s arguments, for a step without a ``@card`` of its own.
    with_card: dict[str, Any] | None = None
    #: False for an attempt that ``@catch(print_exception=False)`` will catch if it fails:
    #: its traceback is not echoed (as Metaflow keeps quiet); its record still holds it.
    print_exception: bool = True
    #: ``run --namespace``: the namespace the step's client reads runs in (``""``: every
    #: run); None: the default, ``user:<you>``. ``current.namespace`` stays ``user:<you>``.
    client_namespace: str | None = None
    #: The run hooks the run enables, with their arguments: an extension's code in the step
    #: reads its own (``log_model`` the tracking URI and experiment of ``mlflow``).
    hooks: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def pathspec(self) -> str:
        return f"{self.flow}/{self.run_id}/{self.step}/{self.task_id}"

    def attempt_fields(self) -> dict[str, Any]:
        """What the attempt's start record says of it, beyond its keys: foreach position,
        parent tasks, cache key (the task writes it; the scheduler, for a task that died
        before it could)."""
        return {
            "attempt": self.attempt,
            "foreach": [b.index for b in self.path if b.kind == "foreach"],
            "parents": [f"{self.flow}/{self.run_id}/{i.rsplit('/', 1)[0]}" for i in self.inputs],
            "cache_key": self.cache_key,
        }

    def to_json(self) -> str:
        # A shallow copy: json writes tuples as lists, and every field is plain data or one
        # of the two flat dataclasses below (asdict's deep copy was most of a launch's cost).
        data = dict(vars(self))
        data["code"] = vars(self.code)
        data["contract"] = vars(self.contract)
        data["path"] = [b.to_json() for b in self.path]
        return json.dumps(data, separators=(",", ":"))

    @staticmethod
    def from_json(text: str | bytes) -> TaskSpec:
        data: dict[str, Any] = json.loads(text)
        code = data.pop("code")
        contract = data.pop("contract")
        return TaskSpec(
            code=CodeRef.from_json(code),
            contract=StepContract(
                contract["transition"],
                tuple(contract["targets"]),
                contract["takes_inputs"],
                contract.get("foreach"),
                contract.get("condition"),
            ),
            inputs=tuple(data.pop("inputs", ())),
            tags=tuple(data.pop("tags", ())),
            system_tags=tuple(data.pop("system_tags", ())),
            path=tuple(Branch.from_json(b) for b in data.pop("path", ())),
            parameters={a: tuple(ref) for a, ref in data.pop("parameters", {}).items()},
            **data,
        )


def task_spec(
    node: StepNode,
    *,
    store: str,
    flow: str,
    run_id: str,
    task_id: str,
    attempt: int,
    code: CodeRef,
    **more: Any,
) -> TaskSpec:
    """The spec of one attempt of a task of ``node``'s step (its contract comes from the
    graph); ``more`` sets the other :class:`TaskSpec` fields. The one place the scheduler and
    the notebook's step debugger build a spec."""
    return TaskSpec(
        store=store,
        flow=flow,
        run_id=run_id,
        step=node.name,
        task_id=task_id,
        attempt=attempt,
        code=code,
        contract=StepContract.of(node),
        **more,
    )
