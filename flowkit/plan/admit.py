"""Admission: for each task that becomes ready, whether it runs or an earlier task stands in
for it (cloned on a resume, reused by cache key), and why.

The one place that decides: the scheduler admits the tasks of a real run through it, and
``--dry-run`` walks the same loop with the outcomes it can foresee, so a preview says what
the run will do. Nothing here writes: standing a task in (a clone record in the store, or
the template's record in a preview) is the caller's ``place``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from flowkit.fastdata import dataclass, field
from flowkit.graph.model import FlowGraph
from flowkit.plan.reuse import Decider, Decision, cache_key
from flowkit.plan.tasks import Outcome, PlannedTask

if TYPE_CHECKING:
    from flowkit.store import TaskRecord


@dataclass(frozen=True)
class Admitted:
    """A ready task and what was decided for it: run it (``decision.origin`` is None), or
    let ``decision.origin`` stand in for it. ``cache_key`` is the key a run of it records."""

    planned: PlannedTask
    decision: Decision
    cache_key: str


#: Where an admitted task lands: its task id, and what it chose if that is known now (a
#: stand-in's outcome is; a task that is still to run has none yet).
Placed = tuple[str, Outcome | None]


@dataclass
class Admission:
    """Decides for one run; remembers which earlier tasks already stand in, and the
    decisions taken, in order (the run's explanation)."""

    graph: FlowGraph
    parameters: dict[str, tuple[str, int, str]]
    decider: Decider | None = None
    decisions: list[dict[str, Any]] = field(default_factory=list)
    _standing_in: set[str] = field(default_factory=set)

    @property
    def explains(self) -> bool:
        """Whether decisions are worth recording: a resume, or a run that may reuse."""
        return self.decider is not None and self.decider.active

    def decide(
        self,
        planned: PlannedTask,
        inputs: Sequence[TaskRecord],
        *,
        rerun_input: str | None = None,
    ) -> Admitted:
        """What to do with ``planned`` given its input tasks' records; ``rerun_input`` names
        the step of an input that runs again, in a preview where its outcome is unknown."""
        node = self.graph.steps[planned.step]
        defaults = self.decider.defaults if self.decider is not None else {}
        key = cache_key(node, inputs, self.parameters, planned.path, defaults)
        if rerun_input is not None:
            decision = Decision("run", f"its input from step '{rerun_input}' runs again")
        elif not self.explains:
            decision = Decision("run", "")
        else:
            assert self.decider is not None
            decision = self.decider.decide(node, inputs, planned.path, key)
            if decision.origin is not None and decision.origin.task_id in self._standing_in:
                decision = Decision("run", "the earlier task already stands in elsewhere")
        if decision.origin is not None:
            self._standing_in.add(decision.origin.task_id)
        return Admitted(planned, decision, key)

    def note(self, admitted: Admitted, task_id: str) -> None:
        if self.explains:
            self.decisions.append(admitted.decision.to_json(admitted.planned.step, task_id))


def admit(
    ready: Sequence[PlannedTask],
    decide: Callable[[PlannedTask], Admitted],
    place: Callable[[Admitted], Placed],
    after: Callable[[str, PlannedTask, Outcome], list[PlannedTask]],
) -> None:
    """Admit ``ready`` tasks, and what becomes ready behind each one whose outcome is known
    at once (a stand-in), in planning order."""
    work = list(ready)
    while work:
        planned = work.pop(0)
        task_id, outcome = place(decide(planned))
        if outcome is not None:
            work += after(task_id, planned, outcome)
