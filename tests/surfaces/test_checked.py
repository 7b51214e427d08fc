"""``flowkit.check``'s result draws itself in Jupyter: the DAG, where each step is, the
parameters; a flow with problems raises LintError, which IPython shows as its problems."""

from __future__ import annotations

import pytest

import flowkit
from flowkit.errors import LintError
from flowkit.graph.model import FlowGraph
from flowkit.lint.api import graph_of
from tests.flows.bad.cycle import CycleFlow
from tests.flows.foreach import ForeachFlow


def test_a_checked_flow_is_its_graph_and_draws_its_dag() -> None:
    checked = flowkit.check(ForeachFlow)
    assert isinstance(checked, FlowGraph)
    assert [s.name for s in checked.ordered()] == [s.name for s in graph_of(ForeachFlow).ordered()]
    html = checked._repr_html_()
    assert "<b>ForeachFlow</b> &middot; 4 steps &middot; no problems found" in html
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="flowkit-dag"' in html
    steps = [part.split('"')[0] for part in html.split('data-step="')[1:]]
    assert steps == ["start", "square", "join", "end"]
    start_line = checked["start"].line
    assert f"line {start_line}, foreach items" in html
    assert "parameters: <code>n=12</code>" in html


def test_a_flow_with_problems_shows_them_not_a_traceback_in_ipython() -> None:
    with pytest.raises(LintError) as info:
        flowkit.check(CycleFlow)
    shown = info.value._render_traceback_()
    assert shown[0] == "\x1b[1;31mLintError\x1b[0m: CycleFlow has 2 problems; nothing was run."
    assert any("making a cycle" in line for line in shown)
    assert not any("flowkit/" in line for line in shown)
