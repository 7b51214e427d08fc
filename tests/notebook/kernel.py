"""Running notebooks through a real Jupyter kernel, for the notebook tests."""

from __future__ import annotations

from typing import Any

from tests.conftest import ROOT, require


def execute(
    cells: list[str], *, widgets: bool = False, timeout: int = 120, allow_errors: bool = False
) -> Any:
    """Execute ``cells`` in a fresh kernel; the executed notebook (outputs filled in). With
    ``allow_errors``, a cell that raises keeps its error output and the next cells run."""
    nbformat = require("nbformat")
    nbclient = require("nbclient")
    require("ipykernel")
    setup = f"import sys\nsys.path.insert(0, {str(ROOT)!r})"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in [setup, *cells]])
    nbclient.NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        store_widget_state=widgets,
        allow_errors=allow_errors,
    ).execute()
    return nb


def text(nb: Any, index: int) -> str:
    """Everything cell ``index`` (counting the user's cells from 0) printed or displayed."""
    out = []
    for output in nb.cells[index + 1].get("outputs", []):
        out.append("".join(output.get("text", "")))
        data = output.get("data", {})
        if "application/vnd.jupyter.widget-view+json" in data:
            continue  # the live view; its content is in widget_html()
        out.append("".join(data.get("text/html", "")) or "".join(data.get("text/plain", "")))
    return "".join(out)


def widget_html(nb: Any) -> list[str]:
    """The final value of every HTML widget the notebook displayed."""
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    return [m["state"]["value"] for m in state.values() if m["model_name"] == "HTMLModel"]
