"""Every run carries its code: workers import the run's code package, never the working
tree, so editing the flow file or a helper module during a run changes no task."""

from __future__ import annotations

import linecache
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import flowkit
from flowkit.errors import FlowLoadError
from flowkit.store import open_store
from flowkit.store.packages import CodePackage
from flowkit.task.code import code_ref_for, load_flow_class
from flowkit.task.package import extract, project_root
from tests.conftest import ROOT
from tests.runtime.test_shapes import Quiet
from tests.task.code_project import EDITED, original_results, write_project


def _results(run: flowkit.Run) -> dict[str, object]:
    return {
        "first": run["start"].task.data.first,
        "all": run["join"].task.data.all,
        "last": run["end"].task.data.last,
    }


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds the worker in /proc")
def test_files_edited_during_a_run_change_no_task_nor_a_restarted_worker(tmp_path: Path) -> None:
    project, store, gate = tmp_path / "proj", tmp_path / "store", tmp_path / "gate"
    flow = write_project(project, "during")
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "FLOWKIT_TEST_GATE": str(gate),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
    }
    command = [sys.executable, flow.name, "run", "--store", str(store)]
    process = subprocess.Popen(
        command, cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    deadline = time.monotonic() + 60
    while not Path(f"{gate}.waiting").exists():
        assert process.poll() is None and time.monotonic() < deadline, process.stdout
        time.sleep(0.02)
    write_project(project, "during", EDITED)  # the flow file and its helper both change
    gate.touch()
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output
    run = flowkit.Flow("EditFlow", store=str(store)).latest_run
    assert _results(run) == original_results()
    # 'each' killed the warm worker: the tasks lost with it ran again (attempt 1), as did
    # 'join' and 'end', in a worker started after the edit
    assert Path(f"{gate}.restarted").exists()
    assert 1 in {t.record.attempt for t in run["each"]}
    # A worker started now, elsewhere, with no extracted copy and no project folder at all
    # (another machine, say), loads the package as it was when the run started.
    project.rename(tmp_path / "moved")
    digest = run.record.code_digest
    probe = (
        "import sys; from flowkit.store import open_store; "
        "from flowkit.task.code import load_flow_class; from flowkit.task.spec import CodeRef; "
        f"cls = load_flow_class(CodeRef('package', {digest!r}, 'EditFlow'), open_store({str(store)!r})); "
        "m = sys.modules[cls.__module__]; print(m.MARK, m.helper.VALUE, m.helper.items())"
    )
    other = tmp_path / "other"
    other.mkdir()
    env["XDG_CACHE_HOME"] = str(tmp_path / "fresh-cache")
    probed = subprocess.run(
        [sys.executable, "-c", probe], cwd=other, env=env, capture_output=True, text=True
    )
    assert (probed.returncode, probed.stdout) == (0, "original original [1, 2, 3]\n"), probed.stderr
    assert (tmp_path / "fresh-cache" / "flowkit" / "code" / str(digest)).is_dir()


def test_unchanged_code_is_one_package_and_changed_code_another(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    flow = write_project(tmp_path / "proj", "twice")
    store = str(tmp_path / "store")
    first = flowkit.run(flow, store=store, progress=Quiet())
    second = flowkit.run(flow, store=store, progress=Quiet())
    assert first.record.code_digest is not None
    assert first.record.code_digest == second.record.code_digest
    assert first.code is not None and first.code.files == [
        "flow_twice.py",
        "helper_twice.py",
        "lazy_twice.py",
    ]
    # A package made in another process, where modules were imported in another order and
    # hashes are seeded differently, is the same bytes: the same blob.
    snapshot = (
        "import sys; from flowkit.authoring.loader import load_flow_file; "
        "from flowkit.store import open_store; from flowkit.task.code import code_ref_for, load_flow_class; "
        f"print(code_ref_for(load_flow_file({str(flow)!r}), open_store({store!r})).target)"
    )
    made = subprocess.run(
        [sys.executable, "-c", snapshot],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONHASHSEED": "7"},
        capture_output=True,
        text=True,
    )
    assert made.stdout.strip() == first.record.code_digest, made.stderr
    write_project(tmp_path / "proj", "twice", EDITED)
    assert code_ref_for(first_class(flow), open_store(store)).target != first.record.code_digest


def first_class(flow: Path) -> type:
    from flowkit.authoring.loader import load_flow_file

    return load_flow_file(flow)


def test_a_resume_from_another_folder_runs_the_package_not_that_folders_modules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    flow = write_project(tmp_path / "proj", "elsewhere")
    store = str(tmp_path / "store")
    origin = flowkit.run(flow, store=store, progress=Quiet())
    other = tmp_path / "other"
    other.mkdir()
    (other / "helper_elsewhere.py").write_text("VALUE = 'decoy'\n\ndef items():\n    return [0]\n")
    monkeypatch.chdir(other)
    monkeypatch.syspath_prepend(str(other))  # the decoy is what a plain import would find
    resumed = flowkit.resume(flow, "each", store=store, progress=Quiet())
    assert resumed.origin_run_id == origin.id
    assert resumed.record.code_digest == origin.record.code_digest
    assert _results(resumed) == original_results()
    assert resumed["end"].task.data.where == str(flow)


def test_a_traceback_names_the_project_file_and_quotes_the_code_the_run_ran(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    flow = tmp_path / "proj" / "failing_flow.py"
    flow.parent.mkdir()
    flow.write_text(
        "from flowkit import FlowSpec, step\n\n\nclass FailingFlow(FlowSpec):\n"
        "    @step\n    def start(self):\n        raise ValueError('no')\n"
        "        self.next(self.end)\n\n    @step\n    def end(self):\n        pass\n"
    )
    with pytest.raises(flowkit.RunFailed) as info:
        flowkit.run(flow, store=str(tmp_path / "store"), progress=Quiet())
    text = info.value.render()
    assert f'File "{flow}", line 7, in start' in text
    assert "raise ValueError('no')" in text
    assert str(tmp_path / "cache") not in text


def test_a_snapshot_holds_the_project_modules_only(tmp_path: Path) -> None:
    flow = write_project(tmp_path / "proj" / "flows", "scope")
    (tmp_path / "proj" / ".git").mkdir()
    assert project_root(str(flow)) == str(tmp_path / "proj" / "flows")  # pyproject.toml there
    (tmp_path / "proj" / "flows" / "pyproject.toml").unlink()
    assert project_root(str(flow)) == str(tmp_path / "proj")
    store = open_store(str(tmp_path / "store"))
    ref = code_ref_for(first_class(flow), store)
    package = CodePackage.from_value(store.values.load(ref.target), "package")
    # pytest, click, the standard library and flowkit itself stay out; the flow and its
    # helper are there with their paths from the project root
    assert sorted(package.files) == [
        "flows/flow_scope.py",
        "flows/helper_scope.py",
        "flows/lazy_scope.py",  # imported by a step only
    ]
    assert (package.kind, package.entry, package.paths) == (
        "file",
        "flows/flow_scope.py",
        ("flows",),
    )
    assert ref.root == str(tmp_path / "proj")


def test_a_run_s_code_ref_leaves_out_packages_this_process_extracted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process that loaded a run's code (an in-process task, a client) has that package's
    folder on sys.path; a run it starts next must not hand it to its workers (a stale copy of
    other modules, and a digest-named folder that is no blob of the store)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(sys, "path", list(sys.path))
    flow = write_project(tmp_path / "proj", "extracted")
    store = open_store(str(tmp_path / "store"))
    first = code_ref_for(first_class(flow), store)
    load_flow_class(first, store)
    assert any(p.startswith(str(tmp_path / "cache")) for p in sys.path)
    again = code_ref_for(first_class(flow), store)
    assert again.target == first.target
    assert not [p for p in again.sys_path if p.startswith(str(tmp_path / "cache"))]
    assert str(tmp_path / "proj") in again.sys_path or again.root == str(tmp_path / "proj")


def test_two_workers_extracting_one_package_both_get_it_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    package = CodePackage("F", "file", "f.py", {"f.py": b"x = 1\n", "pkg/m.py": b"y = 2\n"})
    digest = "ab" * 32
    final = tmp_path / "cache" / "flowkit" / "code" / digest
    rename = os.rename

    def others_first(source: str, target: str) -> None:
        theirs = tmp_path / "theirs"
        package.write_to(theirs)
        rename(theirs, target)  # the other worker wins the race...
        rename(source, target)  # ...so this one's rename fails: its folder is not empty

    with monkeypatch.context() as patched:
        patched.setattr(os, "rename", others_first)
        assert extract(digest, package) == str(final)
    assert [p.name for p in final.parent.iterdir()] == [digest]  # the loser's copy is gone
    assert (final / "pkg" / "m.py").read_bytes() == b"y = 2\n"
    assert extract(digest, package) == str(final)  # and from now on, it is simply there


def test_a_package_that_cannot_be_extracted_says_where_and_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "cache").write_text("a file where the cache folder should be")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with pytest.raises(FlowLoadError) as info:
        extract("cd" * 32, CodePackage("F", "file", "f.py", {"f.py": b""}))
    assert info.value.message.startswith(
        f"cannot extract code package {'cd' * 32} into {tmp_path}/cache/flowkit/code: "
    )
    assert "XDG_CACHE_HOME" in info.value.hint


_PKG_FLOW = """\
import importlib
from importlib import resources

from flowkit import FlowSpec, step

import {lib}


class PkgFlow(FlowSpec):
    @step
    def start(self):
        from {lib} import (
            wrapped,
        )
        from {lib} import \\
            continued

        literal = importlib.import_module("{lib}.literal")
        self.found = [wrapped.NAME, continued.NAME, literal.NAME, literal.near.NAME]
        self.computed = importlib.import_module("{lib}." + "computed").NAME
        self.path = list({lib}.__path__)
        self.config = resources.files("{lib}").joinpath("config.txt").read_text()
        self.next(self.end)

    @step
    def end(self):
        pass
"""


def _write_package_project(root: Path, lib: str) -> Path:
    """A project whose flow imports its package's submodules in the ways a regex misses,
    one by a computed name only, and reads a data file of the package."""
    package = root / lib
    package.mkdir(parents=True)
    (root / "pyproject.toml").write_text("[project]\nname = 'demo'\n")
    (package / "__init__.py").write_text("")
    (package / "wrapped.py").write_text("from .sibling import NAME\n")
    (package / "sibling.py").write_text("NAME = 'wrapped'\n")
    (package / "continued.py").write_text("NAME = 'continued'\n")
    (package / "literal.py").write_text(
        "import importlib\n\nNAME = 'literal'\nnear = importlib.import_module('.near', __package__)\n"
    )
    (package / "near.py").write_text("NAME = 'near'\n")
    (package / "computed.py").write_text("NAME = 'computed'\n")
    (package / "config.txt").write_text("threshold: 3\n")
    flow = root / "flow_pkgs.py"
    flow.write_text(_PKG_FLOW.format(lib=lib))
    return flow


def test_a_snapshot_holds_the_submodules_imported_in_parentheses_continued_lines_or_by_literal_name(
    tmp_path: Path,
) -> None:
    flow = _write_package_project(tmp_path / "proj", "pkgs_scan")
    store = open_store(str(tmp_path / "store"))
    ref = code_ref_for(first_class(flow), store)
    package = CodePackage.from_value(store.values.load(ref.target), "package")
    assert sorted(package.files) == [
        "flow_pkgs.py",
        "pkgs_scan/__init__.py",
        "pkgs_scan/continued.py",  # from pkgs_scan import \\ continued
        "pkgs_scan/literal.py",  # importlib.import_module("pkgs_scan.literal")
        "pkgs_scan/near.py",  # import_module(".near", __package__), in literal.py
        "pkgs_scan/sibling.py",  # from .sibling import NAME, in wrapped.py
        "pkgs_scan/wrapped.py",  # from pkgs_scan import (wrapped,)
    ]


def test_a_package_s_unpackaged_submodules_and_data_files_are_found_in_the_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    flow = _write_package_project(tmp_path / "proj", "pkgs_run")
    run = flowkit.run(flow, store=str(tmp_path / "store"), progress=Quiet())
    data = run["start"].task.data
    assert data.found == ["wrapped", "continued", "literal", "near"]
    assert data.computed == "computed"  # imported by a computed name: not in the package
    copy = tmp_path / "cache" / "flowkit" / "code" / str(run.record.code_digest) / "pkgs_run"
    assert data.path == [str(copy), str(tmp_path / "proj" / "pkgs_run")]  # the copy first
    assert data.config == "threshold: 3\n"


_NOTEBOOK_CELL = """\
from flowkit import FlowSpec, step

import {lib}.helper


class NbPkgFlow(FlowSpec):
    @step
    def start(self):
        self.first = {lib}.helper.VALUE
        for name in ("helper.py", "late.py"):  # the user edits the project meanwhile
            with open({project!r} + "/{lib}/" + name, "w") as file:
                file.write("VALUE = 'edited'\\n")
        self.items = [1, 2]
        self.next(self.each, foreach="items")

    @step
    def each(self):
        from {lib} import late  # imported by this step only, after the edit

        self.seen = ({lib}.helper.VALUE, late.VALUE, self.input)
        self.next(self.join)

    @step
    def join(self, inputs):
        self.all = sorted(i.seen for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass
"""


def test_a_notebook_flow_s_package_holds_the_project_modules_it_imports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    project, lib = tmp_path / "proj", "nbpkg_edit"
    (project / lib).mkdir(parents=True)
    (project / "pyproject.toml").write_text("[project]\nname = 'demo'\n")
    (project / lib / "__init__.py").write_text("")
    for name in ("helper.py", "late.py"):
        (project / lib / name).write_text("VALUE = 'original'\n")
    # A notebook in the project's folder: its cells are no file, its class travels by value
    monkeypatch.chdir(project)
    monkeypatch.syspath_prepend(str(project))
    source = _NOTEBOOK_CELL.format(lib=lib, project=str(project))
    filename = "<flowkit-test-notebook-cell>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace: dict[str, object] = {"__name__": "__main__"}
    exec(compile(source, filename, "exec"), namespace)
    store = str(tmp_path / "store")
    run = flowkit.run(namespace["NbPkgFlow"], store=store, progress=Quiet())
    assert run.code is not None and run.code.files == [
        "cells/flowkit-test-notebook-cell.py",
        f"{lib}/__init__.py",
        f"{lib}/helper.py",  # imported by the cell
        f"{lib}/late.py",  # imported by a step only
    ]
    assert run.code.flow_source == source  # the cells, not the modules
    assert run["start"].task.data.first == "original"
    assert run["join"].task.data.all == [("original", "original", 1), ("original", "original", 2)]
    # Another machine: a fresh worker, no extracted copy, no project folder at all
    project.rename(tmp_path / "moved")
    probe = (
        "import sys; from flowkit.store import open_store; "
        "from flowkit.task.code import load_flow_class; from flowkit.task.spec import CodeRef; "
        f"load_flow_class(CodeRef('package', {run.record.code_digest!r}, 'NbPkgFlow', (), "
        f"{str(project)!r}), open_store({store!r})); "
        f"m = sys.modules['{lib}.helper']; print(m.VALUE, m.__file__)"
    )
    other = tmp_path / "other"
    other.mkdir()
    probed = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=other,
        env={**os.environ, "PYTHONPATH": str(ROOT), "XDG_CACHE_HOME": str(tmp_path / "fresh")},
        capture_output=True,
        text=True,
    )
    assert (probed.returncode, probed.stdout) == (
        0,
        f"original {project / lib / 'helper.py'}\n",  # the copy's code, under its project name
    ), probed.stderr


REL_FLOW = """
from flowkit import FlowSpec, step

from .util import WORD


class RelFlow(FlowSpec):
    @step
    def start(self):
        self.word = WORD
        self.next(self.end)

    @step
    def end(self):
        print("word:", self.word)


if __name__ == "__main__":
    RelFlow()
"""


def test_a_flow_run_as_a_module_keeps_its_relative_imports(tmp_path: Path) -> None:
    # ``python -m pkg.flow run``: the worker imports pkg.flow by that name from the package.
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'rel'\n")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "util.py").write_text("WORD = 'original'\n")
    (tmp_path / "pkg" / "flow.py").write_text(REL_FLOW)
    store = tmp_path / "store"
    done = subprocess.run(
        [sys.executable, "-m", "pkg.flow", "run", "--store", str(store)],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "word: original" in done.stdout + done.stderr
    (run_id,) = open_store(str(store)).records.list_runs("RelFlow")
    code = flowkit.Run(f"RelFlow/{run_id}", store=str(store)).code
    assert code is not None
    assert sorted(code.files) == ["pkg/__init__.py", "pkg/flow.py", "pkg/util.py"]
