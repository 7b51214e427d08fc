"""What a flow's graph becomes under Airflow, step by step, and the shapes Airflow cannot
express, refused with the step, file and line.

Airflow maps a task over a list once (dynamic task mapping) and cannot map inside a mapped
task, so a foreach body is a chain of linear steps, each mapped over the foreach's items,
closed by the foreach's join (a fan-in). Refused: a foreach, static split or switch inside a
foreach body, a switch that loops back to an earlier step (a DAG has no cycles), and a step
sent to another executor (``@slurm``, ``@batch``): Airflow's worker runs every task.
"""

from __future__ import annotations

from flowkit.errors import FlowDefinitionError
from flowkit.fastdata import dataclass
from flowkit.graph.model import FlowGraph, StepNode

#: What to do about a refused shape.
REFUSED_HINT = (
    "run this flow with flowkit itself (python flow.py run, or flowkit deploy for schedules), "
    "or reshape it: Airflow maps a task over a list once and has no cycles; see docs/airflow.md"
)


class UnsupportedShape(FlowDefinitionError):
    """A flow shape that an Airflow DAG cannot express."""


@dataclass(frozen=True)
class StepShape:
    """How one step runs under Airflow."""

    name: str
    #: The step runs once per item of the enclosing foreach (a mapped task).
    mapped: bool = False
    #: A join closing a foreach: it takes every mapped task's output.
    fan_in: bool = False
    #: A step reached from several steps without being a join: where a switch's cases meet
    #: again (it runs when one of them ran and none failed).
    converges: bool = False


def shapes(graph: FlowGraph) -> dict[str, StepShape]:
    """Each step's shape, every step after all of its parents (the DAG file defines each
    task before a child uses it); raise :class:`UnsupportedShape` for a shape
    Airflow cannot express."""
    _refuse_cycles(graph)
    opened: dict[str, tuple[tuple[str, str], ...]] = {"start": ()}  # (kind, split step)
    order = [n.name for n in graph.ordered() if n.name in _reachable(graph)]
    placed = _topological(graph, order)
    for name in placed:
        node = graph.steps[name]
        stack = opened[name]
        executor = next((d for d in node.decorators if d.executor), None)
        if executor is not None:
            raise UnsupportedShape(
                f"step '{name}' runs on @{executor.name}, but under Airflow every step runs on "
                "the Airflow worker that runs its task",
                f"drop @{executor.name} from the flow you export and send the task where it "
                "should run with Airflow (a queue, a pool, an executor of Airflow's), or run "
                "the flow with flowkit",
                step=name,
                file=node.file,
                line=node.line,
            )
        in_foreach = any(kind == "foreach" for kind, _ in stack)
        if in_foreach and node.transition in ("foreach", "split", "switch"):
            outer = next(step for kind, step in reversed(stack) if kind == "foreach")
            what = {"foreach": "a foreach", "split": "a static split", "switch": "a switch"}
            raise _refused(
                node,
                f"{what[node.transition]} inside the body of foreach '{outer}' cannot be "
                "exported to Airflow: Airflow maps a task over a list only once, and the "
                "tasks of a mapped task cannot branch",
            )
        for target in node.targets:
            child = graph.steps[target]
            if child.takes_inputs:
                after = stack[:-1]
            elif node.transition in ("foreach", "split"):
                after = (*stack, (node.transition, name))
            else:
                after = stack
            opened.setdefault(target, after)
    result: dict[str, StepShape] = {}
    for name in placed:
        node = graph.steps[name]
        stack = opened[name]
        parents = [graph.steps[p] for p in node.parents if p in opened]
        closes = opened[parents[0].name][-1] if node.takes_inputs and parents else None
        result[name] = StepShape(
            name,
            mapped=any(kind == "foreach" for kind, _ in stack),
            fan_in=closes is not None and closes[0] == "foreach",
            converges=not node.takes_inputs and len(parents) > 1,
        )
    return result


def _refused(node: StepNode, message: str) -> UnsupportedShape:
    return UnsupportedShape(
        message, REFUSED_HINT, step=node.name, file=node.file, line=node.next_line or node.line
    )


def _reachable(graph: FlowGraph) -> set[str]:
    seen: set[str] = set()
    todo = ["start"]
    while todo:
        name = todo.pop()
        if name in seen or name not in graph.steps:
            continue
        seen.add(name)
        todo += graph.steps[name].targets
    return seen


def _refuse_cycles(graph: FlowGraph) -> None:
    """A switch case that leads back to an earlier step (a recursive switch) is a cycle,
    which a DAG cannot have."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(name: str) -> None:
        state[name] = 1
        node = graph.steps[name]
        for target in node.targets:
            if state.get(target) == 1:
                raise _refused(
                    node,
                    f"step '{name}' goes back to step '{target}' (a recursive switch): an "
                    "Airflow DAG has no cycles, so this flow cannot be exported",
                )
            if target not in state and target in graph.steps:
                visit(target)
        state[name] = 2

    if "start" in graph.steps:
        visit("start")


def _topological(graph: FlowGraph, order: list[str]) -> list[str]:
    """``order`` with every step after all of its parents (the graph has no cycles)."""
    placed: list[str] = []
    done: set[str] = set()
    pending = list(order)
    while pending:
        for name in pending:
            if all(p in done or p not in order for p in graph.steps[name].parents):
                placed.append(name)
                done.add(name)
                pending.remove(name)
                break
        else:  # pragma: no cover - _refuse_cycles ran first
            raise AssertionError("cycle")
    return placed
