"""``flowkit.check``: lint a flow and return its graph, which Jupyter draws (the DAG, where
each step is, the parameters, and that lint found nothing); a flow with problems raises
:class:`~flowkit.errors.LintError`, which lists every problem."""

from __future__ import annotations

from html import escape
from typing import Any

from flowkit.client.dag import dag_svg
from flowkit.fastdata import dataclass, fields
from flowkit.graph.model import FlowGraph
from flowkit.lint.api import check as lint_check


@dataclass(frozen=True)
class CheckedFlow(FlowGraph):
    """A :class:`FlowGraph` that lint passed, with a rich display in Jupyter."""

    def _repr_html_(self) -> str:
        steps = self.ordered()
        # each box says where its step is written, and what it fans out over
        states = {
            s.name: ("waiting", f"line {s.line}" + (f", foreach {s.foreach}" if s.foreach else ""))
            for s in steps
        }
        where = f"{self.file}:{self.line}" if self.file else ""
        params = ", ".join(
            f"{p.name}={'required' if p.required else repr(p.default)}" for p in self.parameters
        )
        count = f"{len(steps)} step{'s' if len(steps) != 1 else ''}"
        return (
            "<div class='flowkit-check' style='font-family:sans-serif;font-size:13px'>"
            f"<b>{escape(self.name)}</b> &middot; {count} &middot; no problems found"
            + (f" &middot; <code>{escape(where)}</code>" if where else "")
            + dag_svg([(s.name, s.targets) for s in steps], states)
            + (f"<div>parameters: <code>{escape(params)}</code></div>" if params else "")
            + "</div>"
        )


def check(flow: Any) -> CheckedFlow:
    """Lint a flow (a FlowSpec class or instance) and return its graph; raise
    :class:`~flowkit.errors.LintError` listing every problem."""
    graph = lint_check(flow)
    return CheckedFlow(**{f.name: getattr(graph, f.name) for f in fields(FlowGraph)})
