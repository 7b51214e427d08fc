"""A notebook as (part of) a step: run it with papermill, artifacts in, variables out.

    @step
    def report(self):
        run_notebook(self, "report.ipynb", parameters={"rows": self.rows}, outputs=["summary"])
        self.next(self.end)

The chosen parameters are injected as papermill parameters, the chosen variables come back
as artifacts, and the executed notebook is stored with the task (``self.<name>_notebook``),
viewable in Jupyter. A failing cell fails the step with that cell's traceback.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

from flowkit.errors import FlowkitError

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_OUTPUTS_PARAM = "flowkit_outputs_path"


class NotebookFailed(FlowkitError):
    """A cell of a notebook run by :func:`run_notebook` raised; the message holds its traceback."""


class ExecutedNotebook:
    """An executed notebook kept as an artifact; it displays as the notebook in Jupyter."""

    def __init__(self, name: str, text: str) -> None:
        self.name = name
        self.text = text

    @property
    def cells(self) -> list[dict[str, Any]]:
        return list(json.loads(self.text)["cells"])

    def save(self, path: str | Path) -> Path:
        """Write the notebook to ``path`` (an .ipynb that Jupyter opens)."""
        target = Path(path)
        target.write_text(self.text)
        return target

    def __repr__(self) -> str:
        return f"<ExecutedNotebook {self.name}: {len(self.cells)} cells>"

    def _repr_html_(self) -> str:
        parts = [f"<div class='flowkit-notebook'><b>{escape(self.name)}</b>"]
        for cell in self.cells:
            source = "".join(cell.get("source", ""))
            parts.append(f"<pre style='background:#f6f7f9'>{escape(source)}</pre>")
            for out in cell.get("outputs", []):
                data = out.get("data", {})
                if "image/png" in data:
                    parts.append(f"<img src='data:image/png;base64,{data['image/png']}'/>")
                elif "text/html" in data:
                    parts.append("".join(data["text/html"]))
                else:
                    text = out.get("text") or data.get("text/plain") or ""
                    parts.append(f"<pre>{escape(''.join(text))}</pre>")
        return "".join(parts) + "</div>"


def run_notebook(
    flow: Any,
    path: str | Path,
    *,
    parameters: Mapping[str, Any] | None = None,
    outputs: Sequence[str] = (),
    artifact: str | None = None,
    kernel_name: str = "python3",
    timeout: float = 600,
) -> ExecutedNotebook:
    """Execute the notebook at ``path`` for the step whose ``self`` is ``flow``."""
    import cloudpickle
    import nbformat
    import papermill

    source = _locate(flow, Path(path))
    name = artifact or re.sub(r"\W", "_", source.stem) + "_notebook"
    nb = nbformat.read(source, as_version=4)
    with tempfile.TemporaryDirectory(prefix="flowkit-nb-") as folder:
        given = Path(folder) / source.name
        outputs_path = Path(folder) / "outputs.pkl"
        nb.cells.append(nbformat.v4.new_code_cell(_collect(list(outputs))))
        nbformat.write(nb, given)
        executed = Path(folder) / f"executed-{source.name}"
        try:
            papermill.execute_notebook(
                str(given),
                str(executed),
                parameters={**dict(parameters or {}), _OUTPUTS_PARAM: str(outputs_path)},
                kernel_name=kernel_name,
                language="python",
                cwd=str(source.resolve().parent),
                execution_timeout=timeout,
                progress_bar=False,
                log_output=False,
            )
        except papermill.PapermillExecutionError as exc:
            trace = _ANSI.sub("", "\n".join(exc.traceback))
            raise NotebookFailed(
                f"notebook {source} failed in cell In[{exc.exec_count}]: {exc.ename}: {exc.evalue}\n{trace}",
                "fix the cell (open the notebook in Jupyter), then resume the run",
            ) from None
        values = cloudpickle.loads(outputs_path.read_bytes()) if outputs else {}
        notebook = ExecutedNotebook(source.name, executed.read_text())
    for key, value in values.items():
        setattr(flow, key, value)
    setattr(flow, name, notebook)
    return notebook


def _locate(flow: Any, path: Path) -> Path:
    """``path`` as given if absolute; else next to the flow's file, else in the working
    directory (tasks may run elsewhere than where the run was started)."""
    import sys

    if path.is_absolute():
        return path
    module_file = getattr(sys.modules.get(type(flow).__module__), "__file__", None)
    candidates = [Path(module_file).parent / path] if module_file else []
    candidates.append(Path.cwd() / path)
    found = next((c for c in candidates if c.is_file()), None)
    if found is None:
        tried = ", ".join(str(c) for c in candidates)
        raise NotebookFailed(
            f"notebook {path} was not found (looked in: {tried})",
            "give the notebook's path relative to the flow file, or an absolute path",
        )
    return found


def _collect(names: list[str]) -> str:
    """The cell appended to the notebook that sends the chosen variables back."""
    return (
        "# added by flowkit: the step's outputs\n"
        "import cloudpickle as _flowkit_cp\n"
        f"_flowkit_missing = [n for n in {names!r} if n not in globals()]\n"
        "if _flowkit_missing:\n"
        "    raise NameError(f'the notebook never set {_flowkit_missing}, which the step expects')\n"
        f"with open({_OUTPUTS_PARAM}, 'wb') as _flowkit_fh:\n"
        f"    _flowkit_cp.dump({{n: globals()[n] for n in {names!r}}}, _flowkit_fh)\n"
    )
