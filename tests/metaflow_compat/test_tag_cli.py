"""``python flow.py tag add|remove|replace|list`` as Metaflow 2.19's: ``--run-id`` names the
run (without it nothing is changed and the error names the latest run of your namespace, or of
``--namespace``), ``replace`` takes ``--add`` and ``--remove``, and ``list`` shows every run's
tags unless told ``--run-id``, ``--my-runs``, ``--hide-system-tags`` or a ``--group-by-*``."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import flowkit
from flowkit.cli.flow_cli import make_cli
from tests.flows.linear import LinearFlow
from tests.runtime.test_shapes import Quiet


def _tag(store: Path, *args: str) -> Result:
    return CliRunner().invoke(make_cli(LinearFlow), ["tag", *args, "--store", str(store)])


def _user_tags(store: Path, run_id: str) -> frozenset[str]:
    return flowkit.Run(f"LinearFlow/{run_id}", store=str(store), _namespace_check=False).user_tags


@pytest.fixture
def runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str, str]:
    """Two runs by ann, then one by bob; ann runs the commands."""
    ids = []
    for user in ("ann", "ann", "bob"):
        monkeypatch.setenv("FLOWKIT_USER", user)
        ids.append(flowkit.run(LinearFlow, store=str(tmp_path), progress=Quiet()).id)
    monkeypatch.setenv("FLOWKIT_USER", "ann")
    return ids[0], ids[1], ids[2]


def test_add_remove_and_replace_change_the_run_given_by_run_id(
    tmp_path: Path, runs: tuple[str, str, str]
) -> None:
    first = runs[0]
    added = _tag(tmp_path, "add", "--run-id", first, "x1", "x2")
    assert added.exit_code == 0, added.output
    assert f"run LinearFlow/{first}\n  user tags    x1, x2\n  system tags  " in added.output
    assert _user_tags(tmp_path, first) == {"x1", "x2"}

    replaced = _tag(tmp_path, "replace", "--run-id", first, "--remove", "x1", "--add", "y1")
    assert replaced.exit_code == 0, replaced.output
    assert _user_tags(tmp_path, first) == {"x2", "y1"}
    removed = _tag(tmp_path, "remove", "--run-id", first, "x2")
    assert removed.exit_code == 0 and _user_tags(tmp_path, first) == {"y1"}

    # as Metaflow: replace needs both, and a system tag cannot go
    only_add = _tag(tmp_path, "replace", "--run-id", first, "--add", "z")
    assert only_add.exit_code == 2 and "tag replace needs a tag to remove" in only_add.output
    system = _tag(tmp_path, "remove", "--run-id", first, "runtime:dev")
    assert system.exit_code == 1 and "system tag" in system.output
    assert _user_tags(tmp_path, first) == {"y1"}
    assert _user_tags(tmp_path, runs[1]) == _user_tags(tmp_path, runs[2]) == frozenset()


def test_without_run_id_nothing_changes_and_the_latest_run_of_the_namespace_is_named(
    tmp_path: Path, runs: tuple[str, str, str]
) -> None:
    _, ann_latest, bob = runs
    mine = _tag(tmp_path, "add", "x")
    assert mine.exit_code == 2
    assert "give the run to tag with --run-id" in mine.output
    assert f"LinearFlow's latest run in namespace user:ann is {ann_latest}" in mine.output
    theirs = _tag(tmp_path, "remove", "--namespace", "user:bob", "x")
    assert theirs.exit_code == 2 and f"namespace user:bob is {bob}: --run-id {bob}" in theirs.output
    nobody = _tag(tmp_path, "add", "--namespace", "user:carl", "x")
    assert nobody.exit_code == 1 and "LinearFlow has no run in namespace user:carl" in nobody.output
    assert all(_user_tags(tmp_path, r) == frozenset() for r in runs)
    wrong = _tag(tmp_path, "add", "--run-id", f"LinearFlow/{bob}", "x")
    assert wrong.exit_code == 2 and "give the id alone" in wrong.output


def test_list_shows_every_run_or_the_chosen_ones(
    tmp_path: Path, runs: tuple[str, str, str]
) -> None:
    first, second, bob = runs
    _tag(tmp_path, "add", "--run-id", first, "shared", "only-first")
    _tag(tmp_path, "add", "--run-id", bob, "shared")
    newest_first = f"LinearFlow/{bob}, LinearFlow/{second}, LinearFlow/{first}"

    every = _tag(tmp_path, "list")  # --all is the default
    assert every.exit_code == 0, every.output
    lines = every.output.splitlines()
    assert lines[:2] == [f"runs {newest_first}", "  user tags    only-first, shared"]
    assert "user:ann" in lines[2] and "user:bob" in lines[2]

    mine = _tag(tmp_path, "list", "--my-runs", "--hide-system-tags")
    assert mine.output.splitlines() == [
        f"runs LinearFlow/{second}, LinearFlow/{first}",
        "  user tags    only-first, shared",
    ]
    one = _tag(tmp_path, "list", bob, "--hide-system-tags")  # or --run-id
    assert one.output.splitlines() == [f"run LinearFlow/{bob}", "  user tags    shared"]
    assert _tag(tmp_path, "list", "--run-id", bob, "--hide-system-tags").output == one.output

    by_tag = _tag(tmp_path, "list", "--group-by-tag", "--hide-system-tags")
    assert by_tag.output.splitlines() == [
        "user tag only-first",
        f"  LinearFlow/{first}",
        "user tag shared",
        f"  LinearFlow/{bob}, LinearFlow/{first}",
    ]
    by_run = _tag(tmp_path, "list", "--group-by-run", "--hide-system-tags")
    assert by_run.output.splitlines() == [
        f"run LinearFlow/{bob}",
        "  user tags    shared",
        f"run LinearFlow/{second}",
        "  user tags    (none)",
        f"run LinearFlow/{first}",
        "  user tags    only-first, shared",
    ]
    both = _tag(tmp_path, "list", "--group-by-tag", "--group-by-run")
    assert both.exit_code == 2 and "given together" in both.output
