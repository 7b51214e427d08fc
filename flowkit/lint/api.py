"""Reading and checking a flow: ``graph_of(flow)`` reads its graph, ``check(flow)`` also lints it."""

from __future__ import annotations

from typing import Any

from flowkit.authoring.configure import configured
from flowkit.authoring.flowspec import FlowSpecBase
from flowkit.errors import FlowkitError, LintError
from flowkit.graph.build import build_graph
from flowkit.graph.model import FlowGraph
from flowkit.lint.rules import lint


def _flow_class(flow: Any) -> type:
    cls = flow if isinstance(flow, type) else type(flow)
    if not issubclass(cls, FlowSpecBase):
        raise FlowkitError(
            f"{flow!r} is not a flow",
            "pass a class that derives from flowkit.FlowSpec (or an instance of one)",
        )
    return cls


def graph_of(flow: Any) -> FlowGraph:
    """The frozen graph of a flow class (or instance), without linting it; config expressions
    in it take their configs' defaults unless the class was configured for a run."""
    return build_graph(configured(_flow_class(flow)))


def check(flow: Any) -> FlowGraph:
    """Lint a flow and return its graph; raise :class:`LintError` listing every problem."""
    built = graph_of(flow)
    problems = lint(built)
    if problems:
        raise LintError(built.name, problems)
    return built
