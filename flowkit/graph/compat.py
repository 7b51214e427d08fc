"""Metaflow's view of a flow's graph (``Flow._graph``, ``self._graph``, ``current.graph``),
derived from flowkit's :class:`FlowGraph` for code and tools written against Metaflow.

Node attributes follow Metaflow's ``DAGNode``: ``name``, ``type`` (``start``, ``linear``,
``join``, ``split``, ``foreach``, ``split-switch``, ``end``), ``out_funcs``, ``in_funcs``,
``split_parents``, ``split_branches``, ``matching_join``, ``foreach_param``, ``condition``,
``switch_cases``, ``func_lineno``, ``source_file``, ``doc``, ``decorators``,
``is_inside_foreach``.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Iterator
from typing import Any

from flowkit.fastdata import dataclass, field
from flowkit.graph.model import FlowGraph, StepNode
from flowkit.graph.structure import Structure, analyze

_STEP_TYPES = {"split": "split-static", "foreach": "split-foreach", "switch": "split-switch"}


@dataclass(frozen=True)
class DecoratorView:
    """A step decorator as Metaflow code reads it: ``name`` and ``attributes``."""

    name: str
    attributes: dict[str, Any]


@dataclass
class DAGNode:
    """One step, with Metaflow's attribute names."""

    name: str
    type: str
    out_funcs: list[str]
    in_funcs: list[str]
    func_lineno: int
    source_file: str
    doc: str
    decorators: list[DecoratorView]
    num_args: int
    foreach_param: str | None = None
    condition: str | None = None
    switch_cases: dict[str, str] = field(default_factory=dict)
    split_parents: list[str] = field(default_factory=list)
    split_branches: list[str] = field(default_factory=list)
    matching_join: str | None = None
    is_inside_foreach: bool = False
    has_tail_next: bool = False
    tail_next_lineno: int = 0
    invalid_tail_next: bool = False
    parallel_step: bool = False
    parallel_foreach: bool = False
    num_parallel: int = 0


class MetaflowGraph:
    """A flow's graph as Metaflow's ``FlowGraph``: ``graph[name]``, ``name in graph``,
    iteration over the nodes (in graph order), ``nodes``, ``sorted_nodes``, ``start_step``,
    ``end_step``, ``doc`` and ``output_steps()``."""

    def __init__(self, graph: FlowGraph) -> None:
        self.flowkit_graph = graph
        self.name = graph.name
        self.doc = graph.doc
        self.start_step = "start" if "start" in graph.steps else None
        self.end_step = "end" if "end" in graph.steps else None
        structure = analyze(graph)
        self.nodes: dict[str, DAGNode] = {
            node.name: _node(node, structure) for node in graph.ordered()
        }
        self.sorted_nodes = list(self.nodes)
        for node in self.nodes.values():
            foreaches = [p for p in node.split_parents if self.nodes[p].type == "foreach"]
            node.is_inside_foreach = any(
                self.nodes[f].matching_join != node.name for f in foreaches
            )

    def __getitem__(self, name: str) -> DAGNode:
        return self.nodes[name]

    def __contains__(self, name: object) -> bool:
        return name in self.nodes

    def __iter__(self) -> Iterator[DAGNode]:
        return iter(self.nodes.values())

    def __len__(self) -> int:
        return len(self.nodes)

    def __repr__(self) -> str:
        return f"<graph of {self.name}: {', '.join(self.nodes)}>"

    def output_steps(self) -> tuple[dict[str, dict[str, Any]], list[Any]]:
        """``(steps_info, graph_structure)`` as Metaflow's: each step's description, and
        the steps in order with each split's branches as nested lists."""
        steps_info: dict[str, dict[str, Any]] = {}
        seen: set[str] = set()

        def block(start: str, stop: str | None) -> list[Any]:
            out: list[Any] = []
            name: str | None = start
            while name is not None and name != stop and name not in seen:
                seen.add(name)
                node = self.nodes[name]
                steps_info[name] = _describe(node)
                out.append(name)
                kind = _STEP_TYPES.get(node.type, node.type)
                if kind in ("split-static", "split-foreach"):
                    out.append([block(b, node.matching_join) for b in node.out_funcs])
                    name = node.matching_join
                elif kind == "split-switch":
                    out.append([block(b, stop) for b in node.out_funcs if b not in seen])
                    name = None
                else:
                    name = node.out_funcs[0] if node.out_funcs else None
            return out

        structure = block(self.start_step, self.end_step) if self.start_step else []
        if self.end_step is not None:
            steps_info[self.end_step] = _describe(self.nodes[self.end_step])
            structure.append(self.end_step)
        return steps_info, structure

    def info(self) -> dict[str, Any]:
        """What Metaflow's ``current.graph`` (its ``_graph_info``) holds."""
        steps, structure = self.output_steps()
        graph = self.flowkit_graph
        return {
            "file": os.path.basename(graph.file),
            "start_step": self.start_step,
            "end_step": self.end_step,
            "parameters": [
                {"name": p.attr, "type": "IncludeFile" if p.kind == "file" else "Parameter"}
                for p in graph.parameters
            ],
            "constants": [],
            "steps": steps,
            "graph_structure": structure,
            "doc": self.doc,
            "decorators": [],
            "extensions": {},
        }


def _node(step: StepNode, structure: Structure) -> DAGNode:
    stack = structure.stacks.get(step.name, ())
    closes = [split for split, join in structure.joins.items() if join == step.name]
    parents = [split for split, _ in stack] + closes
    # As Metaflow types a step: how it leaves first (a join may also split), then joins.
    if step.transition == "end":
        kind = "end"
    elif step.transition in ("split", "foreach"):
        kind = step.transition
    elif step.transition == "switch":
        kind = "split-switch"
    elif step.takes_inputs:
        kind = "join"
    else:
        kind = "start" if step.name == "start" else "linear"
    return DAGNode(
        name=step.name,
        type=kind,
        out_funcs=list(step.targets),
        in_funcs=sorted(step.parents),
        func_lineno=step.line,
        source_file=step.file,
        doc=step.doc,
        decorators=[DecoratorView(d.name, dict(d.args)) for d in step.decorators],
        num_args=2 if step.takes_inputs else 1,
        foreach_param=step.foreach,
        condition=step.condition,
        switch_cases=dict(step.cases),
        split_parents=parents,
        split_branches=[branch for _, branch in stack],
        matching_join=structure.joins.get(step.name),
        has_tail_next=step.next_line is not None,
        tail_next_lineno=step.next_line or 0,
        invalid_tail_next=step.transition == "invalid",
    )


def _describe(node: DAGNode) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": node.name,
        "type": _STEP_TYPES.get(node.type, node.type),
        "line": node.func_lineno,
        "source_file": node.source_file,
        "doc": node.doc,
        "decorators": [
            {"name": d.name, "attributes": d.attributes, "statically_defined": True}
            for d in node.decorators
        ],
        "next": list(node.out_funcs),
    }
    if node.type == "foreach":
        data["foreach_artifact"] = node.foreach_param
    elif node.type == "split-switch":
        data["condition"] = node.condition
        data["switch_cases"] = dict(node.switch_cases)
    if node.matching_join:
        data["matching_join"] = node.matching_join
    return data


_GRAPHS: weakref.WeakKeyDictionary[type, MetaflowGraph] = weakref.WeakKeyDictionary()


def metaflow_graph(flow_cls: type) -> MetaflowGraph:
    """The Metaflow view of ``flow_cls``'s graph, built on first use, once per class."""
    graph = _GRAPHS.get(flow_cls)
    if graph is None:
        # here: every flow imports this module (FlowSpec's ``_graph``), but building the
        # graph (ast, inspect, dis: ~10 ms) waits until someone asks for it
        from flowkit.graph.build import build_graph

        graph = _GRAPHS[flow_cls] = MetaflowGraph(build_graph(flow_cls))
    return graph


class GraphAttribute:
    """``_graph`` on a flow class and its instances: the :class:`MetaflowGraph`. A class
    attribute, so it is never stored as an artifact."""

    def __get__(self, obj: object, owner: type) -> MetaflowGraph:
        return metaflow_graph(owner)
