"""The plan: from a finished task and what it chose, the tasks that become ready.

Pure bookkeeping, no I/O. Each task has a *path*: the branches of the open splits around it,
outermost first. A join waits, per path and per opening split task, until every branch of
that split has arrived; so nested foreaches, splits inside foreaches and switches inside
branches all line up without special cases.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from flowkit.errors import FlowDefinitionError
from flowkit.fastdata import dataclass, field
from flowkit.graph.model import FlowGraph

if TYPE_CHECKING:
    from flowkit.store import TaskRecord

#: Where one foreach item is stored: the blob of the chunk holding it, and its slot there.
ItemRef = tuple[str, int]


@dataclass(frozen=True, slots=True)
class Branch:
    """One open split around a task: which split task opened it and which branch this is."""

    split_step: str
    split_task: str
    index: int
    count: int
    kind: Literal["split", "foreach"]
    #: For a foreach branch, its item as the split task froze it (None in records written
    #: before items were frozen).
    item: ItemRef | None = None

    def to_json(self) -> list[Any]:
        data: list[Any] = [self.split_step, self.split_task, self.index, self.count, self.kind]
        return data if self.item is None else [*data, *self.item]

    @staticmethod
    def from_json(data: Sequence[Any]) -> Branch:
        step, task, index, count, kind, *item = data
        where = (str(item[0]), int(item[1])) if item else None
        return Branch(str(step), str(task), int(index), int(count), kind, where)


Path = tuple[Branch, ...]


@dataclass(frozen=True, slots=True)
class PlannedTask:
    """A task the scheduler should run: its step, its input tasks (in branch order for a
    join) and its path."""

    step: str
    inputs: tuple[str, ...]
    path: Path


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a successful task chose: the steps it goes to, and if a foreach, its fan-out
    size and the chunks its items were frozen into (``[blob digest, item count]`` each)."""

    targets: tuple[str, ...]
    foreach_count: int | None = None
    foreach_items: tuple[tuple[str, int], ...] = ()

    @staticmethod
    def of(record: TaskRecord) -> Outcome:
        return Outcome(record.next_steps, record.foreach_count, record.foreach_items)

    def item_refs(self) -> list[ItemRef | None]:
        """Where each branch's item is stored, in branch order."""
        refs: list[ItemRef | None] = [
            (digest, slot) for digest, count in self.foreach_items for slot in range(count)
        ]
        return refs or [None] * (self.foreach_count or 0)


#: The most tasks one foreach may fan out into, unless ``--max-num-splits`` says otherwise.
MAX_NUM_SPLITS = 10_000

#: What to do about a fan-out over ``max_num_splits``.
TOO_MANY_SPLITS_HINT = "raise --max-num-splits if this is intended, or fan out over fewer items"


class TooManySplits(FlowDefinitionError):
    """A foreach would fan out into more tasks than ``max_num_splits`` allows."""


@dataclass
class Planner:
    """Tracks joins in progress; ask it what follows each finished task."""

    graph: FlowGraph
    max_num_splits: int = MAX_NUM_SPLITS
    _arrivals: dict[tuple[str, Path, str], dict[int, str]] = field(default_factory=dict)

    def first(self) -> PlannedTask:
        return PlannedTask("start", (), ())

    def after(self, task_id: str, task: PlannedTask, outcome: Outcome) -> list[PlannedTask]:
        """The tasks that become ready because ``task`` (id ``task_id``) succeeded."""
        node = self.graph.steps[task.step]
        if node.transition == "foreach":
            items = outcome.item_refs()
            count = len(items)
            if count > self.max_num_splits:  # a clone from a run with a higher limit
                raise TooManySplits(
                    f"fans out into {count} tasks, more than --max-num-splits "
                    f"{self.max_num_splits}",
                    TOO_MANY_SPLITS_HINT,
                    step=task.step,
                    file=node.file,
                    line=node.next_line or node.line,
                )
            (target,) = outcome.targets
            planned = [
                self._arrive(
                    target,
                    task_id,
                    (*task.path, Branch(task.step, task_id, i, count, "foreach", item)),
                )
                for i, item in enumerate(items)
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
