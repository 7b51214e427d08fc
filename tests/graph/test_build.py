"""A flow class becomes the same graph from a file, from exec'd code and from a notebook."""

from __future__ import annotations

import json
import linecache
from pathlib import Path

import pytest

import flowkit
from flowkit.graph.structure import analyze
from tests.conftest import FLOWS, ROOT, require
from tests.graph.expected import assert_all_shapes

SOURCE = (FLOWS / "all_shapes.py").read_text()


def test_graph_from_a_file() -> None:
    from tests.flows.all_shapes import AllShapesFlow

    graph = flowkit.check(AllShapesFlow)
    assert graph.file == str(FLOWS / "all_shapes.py")
    assert graph.line == 7
    assert_all_shapes(graph.to_json())


def test_graph_from_exec_with_source_in_linecache() -> None:
    filename = "<flowkit-test-exec-1>"
    linecache.cache[filename] = (len(SOURCE), None, SOURCE.splitlines(True), filename)
    namespace: dict[str, object] = {"__name__": "exec_flow"}
    exec(compile(SOURCE, filename, "exec"), namespace)
    graph = flowkit.check(namespace["AllShapesFlow"])
    assert graph.file == filename
    assert_all_shapes(graph.to_json())


def test_exec_without_source_says_how_to_provide_it() -> None:
    namespace: dict[str, object] = {"__name__": "exec_flow"}
    exec(compile(SOURCE, "<no-source-anywhere>", "exec"), namespace)
    with pytest.raises(flowkit.LintError) as info:
        flowkit.check(namespace["AllShapesFlow"])
    text = info.value.render()
    assert "the source of <no-source-anywhere> is not available" in text
    assert "linecache.cache[filename]" in text
    assert len(info.value.problems) == 1


def test_structure_of_all_shapes() -> None:
    from tests.flows.all_shapes import AllShapesFlow

    structure = analyze(flowkit.graph_of(AllShapesFlow))
    assert dict(structure.joins) == {"start": "merge", "merge": "outer_join", "fan": "inner_join"}
    assert structure.back_edges == {("loop", "loop")}
    assert structure.stacks["leaf"] == (("merge", "fan"), ("fan", "leaf"))
    assert structure.stacks["loop"] == ()
    assert structure.problems == ()


def test_graph_is_frozen() -> None:
    from tests.flows.all_shapes import AllShapesFlow

    graph = flowkit.graph_of(AllShapesFlow)
    with pytest.raises(AttributeError):
        graph.name = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        graph.steps["x"] = graph.steps["start"]  # type: ignore[index]


def test_inherited_steps_and_parameters_come_from_their_own_file(tmp_path: Path) -> None:
    base = tmp_path / "base_flow.py"
    base.write_text(
        "from flowkit import FlowSpec, Parameter, step\n\n"
        "class Base(FlowSpec):\n"
        "    size = Parameter('size', default=3)\n\n"
        "    @step\n"
        "    def end(self):\n"
        "        pass\n"
    )
    child = tmp_path / "child_flow.py"
    child.write_text(
        "from base_flow import Base\nfrom flowkit import step\n\n"
        "class Child(Base):\n"
        "    @step\n"
        "    def start(self):\n"
        "        self.next(self.end)\n"
    )
    from flowkit.authoring.loader import load_flow_file

    graph = flowkit.check(load_flow_file(child))
    assert graph.name == "Child" and graph.line == 4
    assert graph["end"].file == str(base) and graph["end"].line == 7
    assert graph["start"].file == str(child) and graph["start"].line == 6
    assert [p.name for p in graph.parameters] == ["size"]


@pytest.mark.kernel
def test_graph_from_a_notebook_cell_in_a_real_kernel() -> None:
    nbformat = require("nbformat")
    nbclient = require("nbclient")
    require("ipykernel")
    flow_cell = SOURCE.split('if __name__ == "__main__":')[0]
    flow_cell = flow_cell.replace(
        "from flowkit import FlowSpec, Parameter, catch, resources, retry, step\n", ""
    )
    cells = [
        f"import sys\nsys.path.insert(0, {str(ROOT)!r})",
        "from flowkit import FlowSpec, Parameter, catch, resources, retry, step",
        "def helper(x):\n    return 2 * x",
        flow_cell,
        "import json, flowkit\nprint(json.dumps(flowkit.check(AllShapesFlow).to_json()))",
        # a broken flow in a later cell: lint names the cell and the line
        "class Broken(FlowSpec):\n    @step\n    def start(self):\n        self.next(self.nowhere)\n\n"
        "    @step\n    def end(self):\n        pass\n",
        "try:\n    flowkit.check(Broken)\nexcept flowkit.LintError as e:\n    print(e.render())",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nbclient.NotebookClient(nb, timeout=60, kernel_name="python3").execute()
    graph_json = json.loads(nb.cells[4].outputs[0]["text"])
    assert graph_json["file"] == "Cell In[4]"
    assert_all_shapes(graph_json)
    lint_text = nb.cells[6].outputs[0]["text"]
    assert "Cell In[6]:4: step 'start': self.next() goes to 'nowhere'" in lint_text
    assert "Traceback" not in lint_text
