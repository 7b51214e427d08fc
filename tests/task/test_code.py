"""A flow class defined in notebook cells (here: ``exec`` under cell-like file names) travels
to the worker by value and still names its cells and quotes their lines in tracebacks."""

from __future__ import annotations

import io
import linecache
from pathlib import Path

import pytest

import flowkit
from flowkit.errors import FlowLoadError
from flowkit.surfaces.terminal import TerminalView
from tests.conftest import run_python

HELPER_CELL = """\
def score(x):
    return sum(Checker().checked(v) for v in [x])

class Checker:
    def checked(self, v):
        if v == 3:
            raise ValueError('3 is not allowed yet')
        return v
"""

FLOW_CELL = """\
from flowkit import FlowSpec, step

class CellFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1, 3]
        self.next(self.work, foreach="items")

    @step
    def work(self):
        self.value = score(self.input)
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass
"""


def _define_in_cells() -> type:
    """Run two 'cells' in one namespace, as a kernel does: their source lives only in the
    line cache, under names that are no file on disk."""
    namespace: dict[str, object] = {"__name__": "__main__"}
    for number, source in ((7, HELPER_CELL), (8, FLOW_CELL)):
        filename = f"<flowkit-test-cell-{number}>"
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        exec(compile(source, filename, "exec"), namespace)
    flow = namespace["CellFlow"]
    assert isinstance(flow, type)
    return flow


@pytest.mark.parametrize("where", ["RunFailed", "terminal"])
def test_a_flow_from_cells_quotes_the_cells_in_the_workers_traceback(
    where: str, tmp_path: Path
) -> None:
    flow = _define_in_cells()
    terminal = io.StringIO()
    with pytest.raises(flowkit.RunFailed) as info:
        flowkit.run(flow, store=str(tmp_path), progress=TerminalView(terminal, live=False))
    text = info.value.render() if where == "RunFailed" else terminal.getvalue()
    assert "ValueError: 3 is not allowed yet" in text
    assert 'File "<flowkit-test-cell-8>", line 11, in work' in text
    assert "self.value = score(self.input)" in text
    assert 'File "<flowkit-test-cell-7>", line 2, in score' in text
    assert 'File "<flowkit-test-cell-7>", line 2, in <genexpr>' in text
    assert 'File "<flowkit-test-cell-7>", line 7, in checked' in text
    assert "raise ValueError('3 is not allowed yet')" in text
    assert "<dynamic-code>" not in text


LOCKED_CELL = """\
import threading

LOCK = threading.Lock()

def upper(x):
    with LOCK:
        return x.upper()

def load(path):
    with LOCK:
        return path
"""

ATTRIBUTE_FLOW_CELL = """\
from flowkit import FlowSpec, step

class NbFlow(FlowSpec):
    @step
    def start(self):
        self.word = "abc".upper()
        self.loaded = {"k": 1}.get("k")
        self.next(self.end)

    @step
    def end(self):
        pass
"""

HELPER_FLOW_CELL = ATTRIBUTE_FLOW_CELL.replace('"abc".upper()', 'upper("abc")')


def _cells(*sources: str, first: int = 20) -> dict[str, object]:
    namespace: dict[str, object] = {"__name__": "__main__"}
    for number, source in enumerate(sources, first):
        filename = f"<flowkit-test-cell-{number}>"
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        exec(compile(source, filename, "exec"), namespace)
    return namespace


def test_a_notebook_function_named_like_an_attribute_a_step_reads_stays_behind(
    tmp_path: Path,
) -> None:
    """``"abc".upper()`` reads the attribute ``upper``, not the cell's function ``upper``
    (which holds a lock and cannot be pickled): the flow travels without it."""
    flow = _cells(LOCKED_CELL, ATTRIBUTE_FLOW_CELL)["NbFlow"]
    assert isinstance(flow, type)
    run = flowkit.run(flow, store=str(tmp_path), progress=TerminalView(io.StringIO(), live=False))
    assert run.successful
    data = run.data
    assert data is not None and (data.word, data.loaded) == ("ABC", 1)


def test_a_function_the_flow_uses_that_cannot_be_pickled_is_named(tmp_path: Path) -> None:
    flow = _cells(LOCKED_CELL, HELPER_FLOW_CELL)["NbFlow"]
    assert isinstance(flow, type)
    with pytest.raises(FlowLoadError) as info:
        flowkit.run(flow, store=str(tmp_path), progress=TerminalView(io.StringIO(), live=False))
    assert info.value.message == (
        "the notebook's code of flow NbFlow cannot be pickled for its workers: function "
        "'upper' (<flowkit-test-cell-20>, line 5) uses global 'LOCK', a _thread.lock: "
        "TypeError: cannot pickle '_thread.lock' object"
    )
    assert info.value.hint == (
        "create global 'LOCK' inside the step that needs it, or move 'upper' to a module the "
        "notebook imports (a worker imports a module instead of unpickling it)"
    )
    assert "artifact" not in info.value.render()


def test_loading_a_flow_and_running_tasks_imports_no_archive_or_temp_file_modules() -> None:
    """What the warm worker imports before it forks (and every scheduler, and a remote
    worker) leaves out what only a rare path needs: reading a package's resources
    (importlib.readers, with zipfile), extracting a package (tempfile, shutil), a store's
    retry jitter (random)."""
    probe = (
        "import sys, flowkit.task.code, flowkit.task.execute, flowkit.store.local; "
        "print(sorted(set(sys.modules) & "
        "{'importlib.readers', 'zipfile', 'tempfile', 'shutil', 'random'}))"
    )
    result = run_python("-c", probe)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
