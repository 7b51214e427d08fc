"""``flowkit gc``: its summary, --dry-run, the refusal without a rule, rules from the project
and the environment, and bad durations."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from flowkit.cli.main import cli
from flowkit.store import LocalBackend, Store
from flowkit.testing.fake_run import FakeTask, write_fake_run


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A store with three runs of F (the first tagged 'keep'), in a project folder that is
    the working directory, with no gc settings anywhere yet."""
    monkeypatch.setenv("FLOWKIT_CLOCK_SKEW_SECONDS", "0")
    for name in ("KEEP_LAST", "KEEP_NEWER_THAN", "KEEP_TAGS", "GRACE"):
        monkeypatch.delenv(f"FLOWKIT_GC_{name}", raising=False)
    monkeypatch.delenv("FLOWKIT_STORE", raising=False)
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.chdir(project)
    store = Store(LocalBackend(tmp_path / "store", durable=False))
    for i in range(3):
        tags = ["keep"] if i == 0 else []
        x = f"{i:0>100}"  # too long to be held inline by its record: a blob, for gc to free
        write_fake_run(store, "F", {"start": [FakeTask({"x": x}, stdout=f"{i}\n")]}, tags=tags)
    return tmp_path / "store"


def _gc(root: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["gc", "--store", str(root), *args], prog_name="flowkit")


def _runs(root: Path) -> int:
    return len(list(Store(LocalBackend(root)).records.iter_runs("F")))


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_gc_says_what_it_deleted_and_freed(root: Path) -> None:
    result = _gc(root, "--keep-last", "1", "--grace", "0")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert f"gc of {root}\n" in out
    assert "kept: the last 1 run(s) of each flow; running runs" in out
    assert "runs: 2 deleted (2 of F); 1 kept" in out
    assert "blobs: 2 (" in out and "moved to the trash" in out
    assert "freed now: " in out and "(2 blob(s) deleted from the trash)" in out
    assert "waiting in the trash" not in out
    assert "gc: listing runs, blobs and records" in result.stderr  # progress, not the summary
    assert _runs(root) == 1


def test_with_a_grace_period_it_says_what_waits_until_when(root: Path) -> None:
    result = _gc(root, "--keep-last", "1")
    assert result.exit_code == 0, result.output
    # the blobs were written a moment ago: the default grace of 1 h keeps them where they are
    assert "blobs: 0 (0 B) moved to the trash; 2 unnamed blob(s) written in the last 1h" in (
        result.stdout
    )
    assert _runs(root) == 1


def test_dry_run_changes_nothing(root: Path) -> None:
    before = _files(root)
    result = _gc(root, "--keep-last", "1", "--grace", "0", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "(dry run: nothing was changed)" in result.stdout
    assert "runs: 2 would be deleted (2 of F); 1 kept" in result.stdout
    assert "would be moved to the trash" in result.stdout
    assert _files(root) == before


def test_without_a_rule_gc_refuses(root: Path) -> None:
    result = _gc(root, "--grace", "0")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: gc needs a retention rule")
    assert "--keep-last N" in result.stderr and "gc_keep_last" in result.stderr
    assert _runs(root) == 3


def test_rules_come_from_the_project_and_the_environment(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Path("pyproject.toml").write_text('[tool.flowkit]\ngc_keep_last = 2\ngc_grace = "0s"\n')
    result = _gc(root, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "runs: 1 would be deleted (1 of F); 2 kept" in result.stdout
    monkeypatch.setenv("FLOWKIT_GC_KEEP_LAST", "1")  # the environment beats the project
    monkeypatch.setenv("FLOWKIT_GC_KEEP_TAGS", "other, keep")
    result = _gc(root)
    assert "kept: the last 1 run(s) of each flow; runs tagged other, keep" in result.stdout
    assert "runs: 1 deleted (1 of F); 2 kept" in result.stdout  # the tagged one and the last
    result = _gc(root, "--keep-tag", "none")  # and a flag beats both
    assert "kept: the last 1 run(s) of each flow; runs tagged none" in result.stdout
    assert "runs: 1 deleted (1 of F); 1 kept" in result.stdout
    assert _runs(root) == 1


def test_keep_last_0_is_refused(root: Path) -> None:
    result = _gc(root, "--keep-last", "0", "--keep-tag", "none", "--grace", "0")
    assert result.exit_code == 1
    assert "gc cannot keep the last 0 runs of each flow: that deletes every finished run" in (
        result.stderr
    )
    assert "--keep-last 1" in result.stderr and "--keep-newer-than 30d" in result.stderr
    assert _runs(root) == 3


@pytest.mark.parametrize("flag", ["--keep-newer-than", "--grace"])
def test_a_bad_duration_names_the_flag(root: Path, flag: str) -> None:
    result = _gc(root, "--keep-last", "1", flag, "3 fortnights")
    assert result.exit_code == 2
    assert f"Invalid value for '{flag}': '3 fortnights' is not a duration" in result.stderr
    assert "30d, 12h" in result.stderr
    assert _runs(root) == 3


def test_a_bad_duration_in_the_environment_names_the_variable(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWKIT_GC_GRACE", "soon")
    result = _gc(root, "--keep-last", "1")
    assert result.exit_code == 1
    assert "setting gc_grace is not a duration: 'soon' (from FLOWKIT_GC_GRACE)" in result.stderr


def test_keep_newer_than_keeps_recent_runs(root: Path) -> None:
    result = _gc(root, "--keep-newer-than", "1h", "--grace", "0")
    assert result.exit_code == 0, result.output
    assert "runs newer than 1h" in result.stdout and "runs: 0 deleted; 3 kept" in result.stdout
