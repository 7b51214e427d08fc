"""The plan: from a finished task and what it chose, the tasks that become ready.

Pure bookkeeping, no I/O. Each task has a *path*: the branches of the open splits around it,
outermost first. A join waits, per path and per opening split task, until every branch of
that split has arrived; so nested foreaches, splits inside foreaches and switches inside
branches all line up without special cases.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from flowkit.errors import FlowkitError
from flowkit.graph.model import FlowGraph


@dataclass(frozen=True)
class Branch:
    """One open split around a task: which split task opened it and which branch this is."""

    split_step: str
    split_task: str
    index: int
    count: int
    kind: Literal["split", "foreach"]

    def to_json(self) -> list[Any]:
        return [self.split_step, self.split_task, self.index, self.count, self.kind]

    @staticmethod
    def from_json(data: list[Any]) -> Branch:
        step, task, index, count, kind = data
        return Branch(str(step), str(task), int(index), int(count), kind)


Path = tuple[Branch, ...]


@dataclass(frozen=True)
class PlannedTask:
    """A task the scheduler should run: its step, its input tasks (in branch order for a
    join) and its path."""

    step: str
    inputs: tuple[str, ...]
    path: Path


@dataclass(frozen=True)
class Outcome:
    """What a successful task chose: the steps it goes to, and its fan-out size if a foreach."""

    targets: tuple[str, ...]
    foreach_count: int | None = None


class TooManySplits(FlowkitError):
    """A foreach would fan out into more tasks than ``max_num_splits`` allows."""


@dataclass
class Planner:
    """Tracks joins in progress; ask it what follows each finished task."""

    graph: FlowGraph
    max_num_splits: int = 10_000
    _arrivals: dict[tuple[str, Path, str], dict[int, str]] = field(default_factory=dict)

    def first(self) -> PlannedTask:
        return PlannedTask("start", (), ())

    def after(self, task_id: str, task: PlannedTask, outcome: Outcome) -> list[PlannedTask]:
        """The tasks that become ready because ``task`` (id ``task_id``) succeeded."""
        node = self.graph.steps[task.step]
        if node.transition == "foreach":
            count = outcome.foreach_count or 0
            if count > self.max_num_splits:
                raise TooManySplits(
                    f"step '{task.step}' fans out into {count} tasks, more than "
                    f"--max-num-splits {self.max_num_splits}",
                    "raise --max-num-splits if this is intended, or fan out over fewer items",
                )
            (target,) = outcome.targets
            planned = [
                self._arrive(
                    target, task_id, (*task.path, Branch(task.step, task_id, i, count, "foreach"))
                )
                for i in range(count)
            ]
        elif node.transition == "split":
            count = len(outcome.targets)
            planned = [
                self._arrive(
                    t, task_id, (*task.path, Branch(task.step, task_id, i, count, "split"))
                )
                for i, t in enumerate(outcome.targets)
            ]
        else:
            planned = [self._arrive(t, task_id, task.path) for t in outcome.targets]
        return [p for p in planned if p is not None]

    def waiting_joins(self) -> list[str]:
        """Joins that still wait for branches (only non-empty when a branch failed)."""
        return sorted({key[0] for key in self._arrivals})

    def _arrive(self, target: str, task_id: str, path: Path) -> PlannedTask | None:
        if not self.graph.steps[target].takes_inputs:
            return PlannedTask(target, (task_id,), path)
        branch = path[-1]
        key = (target, path[:-1], branch.split_task)
        arrived = self._arrivals.setdefault(key, {})
        arrived[branch.index] = task_id
        if len(arrived) < branch.count:
            return None
        del self._arrivals[key]
        return PlannedTask(target, tuple(arrived[i] for i in range(branch.count)), path[:-1])
