"""``show``: a flow's steps, transitions, decorators and docstrings, and the code a run
ran, as text a person reads."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from flowkit.graph.model import FlowGraph, StepNode

if TYPE_CHECKING:
    from flowkit.client import Run

#: What a run from before code packages says about its code.
NO_PACKAGE = "none stored (the run is older than flowkit's code packages)"


def describe(graph: FlowGraph) -> str:
    """The graph as indented text: the flow, its parameters, then each step in order."""
    lines = [f"{graph.name}  ({graph.file}:{graph.line})"]
    if graph.doc:
        lines += [f"  {row}" for row in graph.doc.splitlines()]
    if graph.parameters:
        lines += ["", "Parameters"]
        for p in graph.parameters:
            default = "required" if p.required else f"default {p.default!r}"
            option = f"--{p.name} {p.kind.upper()}"
            if p.kind == "config":  # given before the command: --config NAME FILE
                option = f"--config {p.name} FILE"
                default = (
                    "required"
                    if p.required
                    else (f"default file {p.default!r}" if p.default else "optional")
                )
            lines.append(f"  {option}  ({default})  {p.help}".rstrip())
    lines += ["", "Steps"]
    width = max((len(s.name) for s in graph.steps.values()), default=0)
    for node in graph.ordered():
        decorators = "  ".join("@" + d.name + _args(d.args) for d in node.decorators)
        lines.append(f"  {node.name:<{width}}  {_transition(node)}  {decorators}".rstrip())
        lines += [f"  {'':<{width}}    {row}" for row in node.doc.splitlines()]
    return "\n".join(lines)


def _transition(node: StepNode) -> str:
    prefix = "join " if node.takes_inputs else ""
    if node.transition == "end":
        return prefix + "finishes the flow"
    if node.transition == "invalid":
        return prefix + "(transition not understood; run check)"
    if node.transition == "switch":
        cases = ", ".join(f"{label!r} -> {target}" for label, target in node.cases)
        return f"{prefix}switch on '{node.condition}': {cases}"
    if node.transition == "foreach":
        return f"{prefix}foreach item of '{node.foreach}' -> {node.targets[0]}"
    if node.transition == "split":
        return f"{prefix}split -> {', '.join(node.targets)}"
    return f"{prefix}-> {node.targets[0]}"


def _args(args: Mapping[str, Any]) -> str:
    shown = ", ".join(f"{k}={v!r}" for k, v in args.items() if v is not None)
    return f"({shown})" if shown else ""


def describe_code(run: Run) -> str:
    """Which code package a run ran: its digest and how many files it holds."""
    code = run.code
    if code is None:
        return f"  code      {NO_PACKAGE}"
    count = len(code.files)
    what = f"flow file {code.flow_file}" if code.flow_file else "a notebook's cells"
    return (
        f"  code      package {code.digest[:12]} ({count} file{'s' if count != 1 else ''}, "
        f"{what}); get it with: flowkit code {run.pathspec} -o DIR"
    )
