"""``--dry-run``: which tasks a resume or ``run --reuse`` would clone, reuse or run, and why,
decided exactly as the real run would, without running anything.

Where a task would run, its outcome is not known yet; the preview follows the template run's
task at the same place (same step and foreach indices) to see what comes after it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from flowkit.graph.model import FlowGraph, StepNode
from flowkit.plan.reuse import Decider, Decision, cache_key
from flowkit.plan.tasks import Outcome, PlannedTask, Planner

if TYPE_CHECKING:
    from flowkit.store import Store, TaskRecord


def preview(
    graph: FlowGraph,
    store: Store,
    decider: Decider,
    parameters: Mapping[str, tuple[str, int, str]],
    template: list[TaskRecord],
) -> list[dict[str, Any]]:
    """The decisions a run would take, as :meth:`Decision.to_json` dicts, in planning order."""
    planner = Planner(graph)
    by_place: dict[tuple[str, tuple[int, ...]], list[TaskRecord]] = {}
    for record in template:
        if record.successful:
            by_place.setdefault((record.step, tuple(int(b[2]) for b in record.path)), []).append(
                record
            )
    records: dict[str, TaskRecord] = {}
    step_of: dict[str, str] = {}
    would_run: set[str] = set()
    decisions: list[dict[str, Any]] = []
    work = [planner.first()]
    while work:
        planned = work.pop(0)
        node = graph.steps[planned.step]
        rerun = [i for i in planned.inputs if i in would_run]
        if rerun:
            decision = Decision("run", f"its input from step '{step_of[rerun[0]]}' runs again")
        else:
            inputs = [records[i] for i in planned.inputs]
            key = cache_key(node, inputs, parameters, planned.path)
            decision = decider.decide(node, inputs, planned.path, key)
        task_id = decision.origin.task_id if decision.origin else f"new-{len(decisions)}"
        decisions.append(decision.to_json(planned.step, task_id))
        step_of[task_id] = planned.step
        if decision.origin is not None:
            records[task_id] = decision.origin
            outcome = Outcome.of(decision.origin)
        else:
            would_run.add(task_id)
            outcome_or_none = _expected_outcome(node, by_place, planned)
            if outcome_or_none is None:
                continue  # where a switch or foreach goes is only known once it runs
            outcome = outcome_or_none
        work += planner.after(task_id, planned, outcome)
    return decisions


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
