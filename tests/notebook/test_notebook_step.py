"""A step runs a parameterized notebook with papermill: artifacts in, variables out, the
executed notebook kept with the task; a failing cell fails the step with its traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

import flowkit
from tests.conftest import require
from tests.runtime.test_shapes import Quiet

FLOW = """
from flowkit import FlowSpec, Parameter, run_notebook, step


class ReportFlow(FlowSpec):
    rows = Parameter("rows", default=4)

    @step
    def start(self):
        self.data = list(range(self.rows))
        self.next(self.report)

    @step
    def report(self):
        run_notebook(self, "report.ipynb", parameters={"data": self.data}, outputs=["mean", "label"])
        self.next(self.end)

    @step
    def end(self):
        pass
"""


def _notebook(folder: Path, body: str) -> None:
    nbformat = require("nbformat")
    params = nbformat.v4.new_code_cell("data = []")
    params.metadata["tags"] = ["parameters"]
    cells = [params, nbformat.v4.new_code_cell(body)]
    nbformat.write(nbformat.v4.new_notebook(cells=cells), folder / "report.ipynb")


@pytest.mark.kernel
def test_a_notebook_step_returns_variables_and_keeps_the_notebook(tmp_path: Path) -> None:
    require("papermill")
    flow = tmp_path / "report_flow.py"
    flow.write_text(FLOW)
    _notebook(
        tmp_path,
        "mean = sum(data) / len(data)\nlabel = f'{len(data)} rows'\nprint('mean is', mean)",
    )
    run = flowkit.run(flow, store=str(tmp_path / "store"), progress=Quiet(), rows=5)
    task = run["report"].task
    assert task.data.mean == 2.0 and task.data.label == "5 rows"
    executed = task.data.report_notebook
    sources = ["".join(c["source"]) for c in executed.cells]
    assert any("data = [0, 1, 2, 3, 4]" in s for s in sources)  # papermill's injected parameters
    outputs = [o for c in executed.cells for o in c.get("outputs", [])]
    assert any("mean is 2.0" in "".join(o.get("text", "")) for o in outputs)
    assert "mean is 2.0" in executed._repr_html_()
    saved = executed.save(tmp_path / "out.ipynb")
    assert saved.read_text().count('"cells"') == 1


@pytest.mark.kernel
def test_a_failing_cell_fails_the_step_with_its_traceback(tmp_path: Path) -> None:
    require("papermill")
    flow = tmp_path / "report_flow.py"
    flow.write_text(FLOW)
    _notebook(tmp_path, "mean = 1\nlabel = 'x'\nraise RuntimeError(f'bad data: {len(data)} rows')")
    with pytest.raises(flowkit.RunFailed) as info:
        flowkit.run(flow, store=str(tmp_path / "store"), progress=Quiet())
    text = info.value.render()
    notebook = tmp_path / "report.ipynb"
    assert (
        f"raised NotebookFailed: notebook {notebook} failed in cell In[3]: "
        "RuntimeError: bad data: 4 rows" in text
    )
    # said once: the task's header names the exception's first line only
    assert text.count("----> 3 raise RuntimeError(f'bad data: {len(data)} rows')") == 1
    assert text.count("Cell In[3], line 3") == 1
    assert not run_dir_has_partial_outputs(tmp_path)


def run_dir_has_partial_outputs(folder: Path) -> bool:
    """A failed notebook step leaves no executed copy or outputs file beside the flow."""
    return any(p.name.startswith("executed-") or p.name == "outputs.pkl" for p in folder.rglob("*"))
