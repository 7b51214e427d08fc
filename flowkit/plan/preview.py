"""``--dry-run``: which tasks a resume or ``run --reuse`` would clone, reuse or run, and why,
decided exactly as the real run would, without running anything.

Where a task would run, its outcome is not known yet; the preview follows the template run's
task at the same place (same step and foreach indices) to see what comes after it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flowkit.graph.model import FlowGraph, StepNode
from flowkit.plan.admit import Admission, Admitted, Placed, admit
from flowkit.plan.reuse import Decider
from flowkit.plan.tasks import Outcome, PlannedTask, Planner

if TYPE_CHECKING:
    from flowkit.store import TaskRecord


def preview(
    graph: FlowGraph,
    decider: Decider,
    parameters: dict[str, tuple[str, int, str]],
    template: list[TaskRecord],
) -> list[dict[str, Any]]:
    """The decisions a run would take, as :meth:`Decision.to_json` dicts, in planning order."""
    planner = Planner(graph)
    admission = Admission(graph, parameters, decider)
    by_place: dict[tuple[str, tuple[int, ...]], list[TaskRecord]] = {}
    for record in template:
        if record.successful:
            by_place.setdefault((record.step, tuple(int(b[2]) for b in record.path)), []).append(
                record
            )
    records: dict[str, TaskRecord] = {}
    step_of: dict[str, str] = {}
    would_run: set[str] = set()

    def decide(planned: PlannedTask) -> Admitted:
        rerun = [i for i in planned.inputs if i in would_run]
        if rerun:
            return admission.decide(planned, [], rerun_input=step_of[rerun[0]])
        return admission.decide(planned, [records[i] for i in planned.inputs])

    def place(admitted: Admitted) -> Placed:
        origin = admitted.decision.origin
        task_id = origin.task_id if origin else f"new-{len(admission.decisions)}"
        admission.decisions.append(admitted.decision.to_json(admitted.planned.step, task_id))
        step_of[task_id] = admitted.planned.step
        if origin is not None:
            records[task_id] = origin
            return task_id, Outcome.of(origin)
        would_run.add(task_id)
        node = graph.steps[admitted.planned.step]
        return task_id, _expected_outcome(node, by_place, admitted.planned)

    admit([planner.first()], decide, place, planner.after)
    return admission.decisions


def _expected_outcome(
    node: StepNode,
    by_place: dict[tuple[str, tuple[int, ...]], list[TaskRecord]],
    planned: PlannedTask,
) -> Outcome | None:
    """Where a task that will run goes next: fixed by the graph for linear steps and static
    splits; for a switch or a foreach, what the template's task at this place did."""
    if node.transition in ("linear", "split", "end"):
        return Outcome(node.targets)
    candidates = by_place.get((planned.step, tuple(b.index for b in planned.path)), [])
    if not candidates:
        return None
    record = candidates.pop(0)
    return Outcome.of(record)
