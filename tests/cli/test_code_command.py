"""``flowkit code FLOW/RUN`` gets a run's files back; ``flowkit show FLOW/RUN`` names them."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import flowkit
from flowkit.cli.main import cli
from flowkit.store import open_store
from tests.runtime.test_shapes import Quiet
from tests.task.code_project import EDITED, write_project


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), prog_name="flowkit")


def test_code_writes_the_original_files_byte_for_byte_after_they_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    project, store = tmp_path / "proj", str(tmp_path / "store")
    flow = write_project(project, "cli")
    original = {
        p.name: p.read_bytes() for p in (flow, project / "helper_cli.py", project / "lazy_cli.py")
    }
    run = flowkit.run(flow, store=store, progress=Quiet())
    write_project(project, "cli", EDITED)
    out = tmp_path / "out"
    result = invoke("code", run.pathspec, "-o", str(out), "--store", store)
    assert (result.exit_code, result.output) == (0, f"wrote 3 files to {out}\n")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == original
    listed = invoke("code", run.pathspec, "--store", store)
    digest = run.record.code_digest
    assert listed.output == (
        f"code package {digest} of run {run.pathspec}\n  flow_cli.py\n  helper_cli.py\n  lazy_cli.py\n"
    )
    shown = invoke("show", run.pathspec, "--store", store)
    assert shown.exit_code == 0, shown.output
    assert (
        f"  code      package {str(digest)[:12]} (3 files, flow file flow_cli.py); "
        f"get it with: flowkit code {run.pathspec} -o DIR"
    ) in shown.output.splitlines()


def test_a_run_without_a_package_says_so(tmp_path: Path) -> None:
    record = open_store(str(tmp_path)).records.create_run("OldFlow")
    pathspec = f"OldFlow/{record.run_id}"
    result = invoke("code", pathspec, "--store", str(tmp_path))
    assert result.exit_code == 1
    assert result.output.startswith(
        f"error: run {pathspec} has no code package: none stored (the run is older than "
        "flowkit's code packages)"
    )
    assert "hint: rerun or resume the flow" in result.output
    shown = invoke("show", pathspec, "--store", str(tmp_path))
    assert "  code      none stored (the run is older than flowkit's code packages)" in (
        shown.output.splitlines()
    )


def test_code_wants_a_run(tmp_path: Path) -> None:
    result = invoke("code", "OldFlow", "--store", str(tmp_path))
    assert result.exit_code == 1 and "'OldFlow' does not name a run" in result.output


def test_code_refuses_to_overwrite_other_files_unless_forced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    project, store = tmp_path / "proj", str(tmp_path / "store")
    flow = write_project(project, "force")
    run = flowkit.run(flow, store=store, progress=Quiet())
    out = tmp_path / "out"
    out.mkdir()
    (out / "flow_force.py").write_bytes(flow.read_bytes())  # identical: fine
    (out / "helper_force.py").write_text("my own work\n")
    (out / "lazy_force.py").mkdir()  # not even a file
    refused = invoke("code", run.pathspec, "-o", str(out), "--store", store)
    assert refused.exit_code == 1
    assert refused.output == (
        f"error: {out} already holds 2 of the package's 3 files with other content: "
        "helper_force.py, lazy_force.py\n"
        "    hint: write into another folder, or overwrite them with --force (force=True in Python)\n"
    )
    assert (out / "helper_force.py").read_text() == "my own work\n"  # nothing was written
    (out / "lazy_force.py").rmdir()
    forced = invoke("code", run.pathspec, "-o", str(out), "--store", store, "--force")
    assert (forced.exit_code, forced.output) == (0, f"wrote 3 files to {out}\n")
    assert (out / "helper_force.py").read_bytes() == (project / "helper_force.py").read_bytes()
    again = invoke("code", run.pathspec, "-o", str(out), "--store", store)
    assert (again.exit_code, again.output) == (0, f"wrote 3 files to {out}\n")
