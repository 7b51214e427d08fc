"""Which splits enclose each step, which join closes each split, and where recursion is.

This is derived from a :class:`FlowGraph` and used by lint (to report a bad shape) and by
the planner (to know how foreach positions and joins line up). A step's *stack* lists the
open splits around it, outermost first, each as ``(split step, branch step)``.
"""

from __future__ import annotations

from collections.abc import Mapping

from flowkit.errors import Problem
from flowkit.fastdata import dataclass, field
from flowkit.graph.model import FlowGraph, StepNode

Frame = tuple[str, str]
Stack = tuple[Frame, ...]

_JOIN_HINT = (
    "a join is 'def {name}(self, inputs)'; merge branch artifacts with self.merge_artifacts(inputs)"
)


@dataclass(frozen=True)
class Structure:
    """The nesting of a flow's steps; only meaningful for reachable steps."""

    stacks: Mapping[str, Stack]
    joins: Mapping[str, str]
    back_edges: frozenset[tuple[str, str]]
    reachable: frozenset[str]
    problems: tuple[Problem, ...] = field(default=(), compare=False)


def analyze(graph: FlowGraph) -> Structure:
    """Walk the graph from ``start`` and check that every split is closed by one join."""
    return _Analysis(graph).run()


class _Analysis:
    def __init__(self, graph: FlowGraph) -> None:
        self.graph = graph
        self.steps = graph.steps
        self.problems: list[Problem] = []
        self.reported: set[str] = set()

    def edges(self, name: str) -> tuple[str, ...]:
        return tuple(t for t in self.steps[name].targets if t in self.steps)

    def problem(self, node: StepNode, message: str, hint: str, line: int | None = None) -> None:
        self.problems.append(
            Problem(message, hint, step=node.name, file=node.file, line=line or node.line)
        )

    def run(self) -> Structure:
        if "start" not in self.steps:
            return Structure({}, {}, frozenset(), frozenset(), ())
        reachable, back_edges = self.walk()
        order = self.topological(reachable, back_edges)
        stacks, joins = self.nest(order, back_edges)
        self.check_recursion(back_edges, stacks)
        return Structure(
            stacks, joins, frozenset(back_edges), frozenset(reachable), tuple(self.problems)
        )

    def walk(self) -> tuple[set[str], set[tuple[str, str]]]:
        """Depth-first from start: reachable steps and the edges that close a cycle."""
        reachable: set[str] = set()
        back: set[tuple[str, str]] = set()
        on_path: list[str] = []
        iters = {}
        stack = ["start"]
        reachable.add("start")
        on_path.append("start")
        iters["start"] = iter(self.edges("start"))
        while stack:
            current = stack[-1]
            nxt = next(iters[current], None)
            if nxt is None:
                stack.pop()
                on_path.pop()
                continue
            if nxt in on_path:
                back.add((current, nxt))
            elif nxt not in reachable:
                reachable.add(nxt)
                stack.append(nxt)
                on_path.append(nxt)
                iters[nxt] = iter(self.edges(nxt))
        for src, dst in sorted(back):
            node = self.steps[src]
            if node.transition != "switch":
                self.problem(
                    node,
                    f"'{src}' goes back to '{dst}', making a cycle",
                    "flows run forward; to repeat steps, end the loop with a switch that "
                    "can go back or leave: self.next({...}, condition='attr')",
                    node.next_line,
                )
        return reachable, back

    def topological(self, reachable: set[str], back: set[tuple[str, str]]) -> list[str]:
        indegree = {n: 0 for n in reachable}
        for name in reachable:
            for target in self.edges(name):
                if (name, target) not in back:
                    indegree[target] += 1
        ready = ["start"]
        order: list[str] = []
        while ready:
            name = ready.pop(0)
            order.append(name)
            for target in self.edges(name):
                if (name, target) in back:
                    continue
                indegree[target] -= 1
                if indegree[target] == 0:
                    ready.append(target)
        return order

    def out_stack(self, parent: str, child: str, stacks: Mapping[str, Stack]) -> Stack:
        node = self.steps[parent]
        if node.transition in ("split", "foreach"):
            return (*stacks[parent], (parent, child))
        return stacks[parent]

    def nest(
        self, order: list[str], back: set[tuple[str, str]]
    ) -> tuple[dict[str, Stack], dict[str, str]]:
        stacks: dict[str, Stack] = {"start": ()}
        joins: dict[str, str] = {}
        for name in order:
            node = self.steps[name]
            parents = [p for p in node.parents if p in stacks and (p, name) not in back]
            if name == "start":
                if node.takes_inputs:
                    self.problem(
                        node, "the start step cannot take inputs", "define it as 'def start(self)'"
                    )
                continue
            incoming = [self.out_stack(p, name, stacks) for p in parents]
            if node.takes_inputs:
                stacks[name] = self.join_entry(node, parents, incoming, joins)
            else:
                stacks[name] = self.plain_entry(node, incoming)
            if name == "end" and stacks[name]:
                split = stacks[name][-1][0]
                self.unclosed(split)
        return stacks, joins

    def join_entry(
        self, node: StepNode, parents: list[str], incoming: list[Stack], joins: dict[str, str]
    ) -> Stack:
        if not incoming or all(not s for s in incoming):
            self.problem(
                node,
                f"step '{node.name}' takes inputs but is not a join: no split comes before it",
                f"define it as 'def {node.name}(self)', or make it follow a split or foreach",
            )
            return ()
        if any(not s for s in incoming):
            inside = [p for p, s in zip(parents, incoming, strict=True) if s]
            outside = [p for p, s in zip(parents, incoming, strict=True) if not s]
            split = next(s for s in incoming if s)[-1][0]
            self.problem(
                node,
                f"step '{node.name}' receives from inside split '{split}' "
                f"({', '.join(inside)}) and from outside it ({', '.join(outside)})",
                "join the branches of each split in a step of their own, then go on",
            )
            return ()
        splits = sorted({s[-1][0] for s in incoming})
        prefixes = {s[:-1] for s in incoming}
        if len(splits) > 1 or len(prefixes) > 1:
            self.problem(
                node,
                f"step '{node.name}' joins branches of different splits ({', '.join(splits)})",
                "each join closes exactly one split: join the inner split's branches first",
            )
            return min(prefixes, key=len)
        split = splits[0]
        if split in joins and joins[split] != node.name:
            self.problem(
                node,
                f"the branches of '{split}' are joined in two steps: '{joins[split]}' and '{node.name}'",
                "lead every branch of a split to the same join step",
            )
        joins[split] = node.name
        arrived = {s[-1][1] for s in incoming}
        missing = [b for b in self.steps[split].targets if b in self.steps and b not in arrived]
        if missing:
            self.problem(
                self.steps[split],
                f"branch '{missing[0]}' of split '{split}' never reaches its join '{node.name}'",
                f"lead every branch of '{split}' to '{node.name}'",
                self.steps[split].next_line,
            )
        return prefixes.pop()

    def plain_entry(self, node: StepNode, incoming: list[Stack]) -> Stack:
        distinct = sorted(set(incoming), key=len)
        if len(distinct) <= 1:
            return distinct[0] if distinct else ()
        # Parents in different branches of an open split meet here without a join.
        deepest = distinct[-1]
        split = next(
            (
                a[0]
                for s in distinct
                for a, b in zip(s, deepest, strict=False)
                if a != b and a[0] == b[0]
            ),
            deepest[-1][0],
        )
        self.reported.add(split)
        self.problem(
            node,
            f"step '{node.name}' receives the branches of split '{split}' but does not take inputs",
            _JOIN_HINT.format(name=node.name),
        )
        return distinct[0]

    def unclosed(self, split: str) -> None:
        if split in self.reported:
            return
        self.reported.add(split)
        node = self.steps[split]
        self.problem(
            node,
            f"the branches of '{split}' are never joined",
            "add a join step, 'def join(self, inputs)', that every branch leads to before end",
            node.next_line,
        )

    def check_recursion(self, back: set[tuple[str, str]], stacks: Mapping[str, Stack]) -> None:
        for src, dst in sorted(back):
            node = self.steps[src]
            if node.transition != "switch":
                continue
            if src in stacks and dst in stacks and stacks[src] != stacks[dst]:
                self.problem(
                    node,
                    f"the switch in '{src}' goes back to '{dst}' across a split or join",
                    "a recursive switch may only go back within the same branch",
                    node.next_line,
                )
            if all((src, t) in back for t in node.targets):
                self.problem(
                    node,
                    f"every case of the switch in '{src}' goes back, so the loop never ends",
                    "add a case that leads forward, towards end",
                    node.next_line,
                )
