"""Metaflow's view of a graph (``Flow._graph``): node types, splits, joins and foreach nesting
derived from flowkit's graph, on the flow with every shape."""

from __future__ import annotations

from flowkit.graph.compat import metaflow_graph
from tests.flows.all_shapes import AllShapesFlow


def test_nodes_as_metaflow_types_and_nests_them() -> None:
    graph = metaflow_graph(AllShapesFlow)
    assert AllShapesFlow._graph is graph  # one per class, built once
    view = {n.name: (n.type, n.split_parents, n.matching_join, n.is_inside_foreach) for n in graph}
    assert view == {
        "start": ("split", [], "merge", False),
        "left": ("linear", ["start"], None, False),
        "right": ("linear", ["start"], None, False),
        # a join that fans out is typed by how it leaves, as Metaflow types it
        "merge": ("foreach", ["start"], "outer_join", False),
        "fan": ("foreach", ["merge"], "inner_join", True),
        "leaf": ("linear", ["merge", "fan"], None, True),
        "inner_join": ("join", ["merge", "fan"], None, True),
        "outer_join": ("join", ["merge"], None, False),
        "loop": ("split-switch", [], None, False),
        "choose": ("split-switch", [], None, False),
        "big": ("linear", [], None, False),
        "small": ("linear", [], None, False),
        "end": ("end", [], None, False),
    }
    loop = graph["loop"]
    assert (loop.condition, loop.switch_cases) == ("again", {"yes": "loop", "no": "choose"})
    assert loop.in_funcs == ["loop", "outer_join"] and graph["merge"].foreach_param == "outer"
    assert graph["leaf"].split_branches == ["fan", "leaf"]


def test_output_steps_describes_each_step_and_the_structure() -> None:
    steps, structure = metaflow_graph(AllShapesFlow).output_steps()
    assert structure == [
        "start",
        [["left"], ["right"]],
        "merge",
        [["fan", [["leaf"]], "inner_join"]],
        "outer_join",
        "loop",
        [["choose", [["big"], ["small"]]]],
        "end",
    ]
    assert set(steps) == set(metaflow_graph(AllShapesFlow).nodes)
    assert steps["choose"]["type"] == "split-switch" and steps["choose"]["condition"] == "mode"
    assert steps["merge"] | {"line": 0, "source_file": "", "doc": "", "decorators": []} == {
        "name": "merge",
        "type": "split-foreach",
        "line": 0,
        "source_file": "",
        "doc": "",
        "decorators": [],
        "next": ["fan"],
        "foreach_artifact": "outer",
        "matching_join": "outer_join",
    }
