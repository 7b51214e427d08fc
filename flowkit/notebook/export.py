"""``flowkit notebook PATHSPEC``: an .ipynb that opens a run and loads its artifacts."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flowkit.store import Store


def export_notebook(
    pathspec: str, path: str | Path | None = None, *, store: str | Store | None = None
) -> Path:
    """Write a notebook exploring run ``pathspec`` (Flow/run); returns where it was written."""
    import nbformat

    from flowkit.client import Run
    from flowkit.store import open_store

    the_store = open_store(store)
    run = Run(pathspec, store=the_store, _namespace_check=False)
    target = Path(path) if path else Path(f"{run.flow_name}-{run.id}.ipynb")
    new_md, new_code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    cells = [
        new_md(
            f"# {run.pathspec}\n\n{run.status}, started {run.created_at:%Y-%m-%d %H:%M:%S} UTC"
            + (f", resumed from {run.origin_run_id}" if run.origin_run_id else "")
            + ".\n\nEach cell loads artifacts lazily: only what you touch is read."
        ),
        new_code(
            "import flowkit\n\n"
            "flowkit.namespace(None)  # read the run whoever started it (as Metaflow does)\n"
            f"run = flowkit.Run({run.pathspec!r}, store={the_store.url!r})\nrun"
        ),
    ]
    for step in run.graph_steps():
        tasks = list(step)
        cells.append(new_md(f"## {step.id}\n\n{len(tasks)} task{'s' * (len(tasks) != 1)}"))
        if len(tasks) == 1:
            names = sorted(a.id for a in tasks[0])
            var = f"{step.id}_data"
            lines = [f"{var} = run[{step.id!r}].task.data"]
            lines += [f"# {var}.{n}" for n in names]
            cells.append(new_code("\n".join(lines) + f"\nrun[{step.id!r}].task"))
        else:
            cells.append(new_code(f"tasks = list(run[{step.id!r}])\nrun[{step.id!r}]"))
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, target)
    return target
