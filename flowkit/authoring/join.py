"""Join steps: the ``inputs`` a join receives, and ``merge_artifacts``."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, overload

from flowkit.authoring.parameters import PARAMETERS_ATTR
from flowkit.errors import FlowkitError, MergeConflictError

if TYPE_CHECKING:
    from flowkit.authoring.flowspec import FlowSpecBase


class Inputs(Sequence["FlowSpecBase"]):
    """What a join step receives: one flow object per incoming task.

    Iterable and indexable; in a static join, ``inputs.train`` is the branch from ``train``.
    """

    def __init__(self, flows: Sequence[FlowSpecBase]) -> None:
        self._flows = list(flows)

    @overload
    def __getitem__(self, index: int) -> FlowSpecBase: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[FlowSpecBase]: ...

    def __getitem__(self, index: int | slice) -> FlowSpecBase | Sequence[FlowSpecBase]:
        return self._flows[index]

    def __len__(self) -> int:
        return len(self._flows)

    def __iter__(self) -> Iterator[FlowSpecBase]:
        return iter(self._flows)

    def __getattr__(self, step: str) -> FlowSpecBase:
        if step.startswith("_"):
            raise AttributeError(step)
        for flow in self._flows:
            if flow.__dict__.get("_flowkit_step_name") == step:
                return flow
        names = sorted({str(f.__dict__.get("_flowkit_step_name")) for f in self._flows})
        raise AttributeError(
            f"this join has no input from step '{step}'; its inputs come from {', '.join(names)}"
        )

    def __repr__(self) -> str:
        names = [f.__dict__.get("_flowkit_step_name") for f in self._flows]
        return f"<Inputs from {names}>"


def merge_into(
    target: FlowSpecBase,
    inputs: Sequence[FlowSpecBase],
    include: Sequence[str] | None,
    exclude: Sequence[str] | None,
) -> None:
    """Implement :meth:`FlowSpec.merge_artifacts`; see its docstring for the rules."""
    step = str(target.__dict__.get("_flowkit_step_name") or "<join>")
    if include is not None and exclude is not None:
        raise FlowkitError(
            f"step '{step}': merge_artifacts takes include= or exclude=, not both",
            "list what to merge with include=[...], or what to skip with exclude=[...]",
        )
    if not inputs:
        raise FlowkitError(f"step '{step}': merge_artifacts was given no inputs")
    available: set[str] = set()
    for flow in inputs:
        available |= flow._flowkit_artifact_names()
    if include is not None:
        missing = sorted(set(include) - available)
        if missing:
            raise FlowkitError(
                f"step '{step}': merge_artifacts(include=...) names {', '.join(missing)}, "
                "which no input has",
                f"the inputs have: {', '.join(sorted(available)) or 'no artifacts'}",
            )
        candidates = set(include)
    else:
        candidates = available - set(exclude or ())
    # The run's parameters: the join has them itself, and an input reused from a run with
    # other values (run --reuse) still names those.
    candidates -= set(target.__dict__.get(PARAMETERS_ATTR, ()))
    own = target._flowkit_artifact_names()
    conflicts: list[str] = []
    chosen: dict[str, FlowSpecBase] = {}
    for attr in sorted(candidates - own):
        holders = [f for f in inputs if attr in f._flowkit_artifact_names()]
        if len(_digests(holders, attr)) > 1:
            conflicts.append(attr)
        else:
            chosen[attr] = holders[0]
    if conflicts:
        raise MergeConflictError(step, conflicts)
    for attr, holder in chosen.items():
        _copy_artifact(holder, target, attr)


def _digests(holders: Sequence[FlowSpecBase], attr: str) -> set[str]:
    # Stored digests and in-memory digests of one value differ, so compare like with like:
    # the store's while every holder still has what it was given (nothing loads), else values.
    stored = [f._flowkit_stored_digest(attr) for f in holders]
    if None not in stored:
        return {str(d) for d in stored}
    return {f._flowkit_value_digest(attr) for f in holders}


def _copy_artifact(source: FlowSpecBase, target: FlowSpecBase, attr: str) -> None:
    # Pass by reference when the value was never loaded: merging must not read big data.
    if attr in source.__dict__:
        target.__dict__[attr] = source.__dict__[attr]
    else:
        target.__dict__["_flowkit_refs"][attr] = source.__dict__["_flowkit_refs"][attr]
