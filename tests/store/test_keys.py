"""Nothing a user types can make a read or write leave the store root."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowkit.client import Flow, Run, Step, Task
from flowkit.store import (
    BadPathspecError,
    InvalidKeyError,
    LocalBackend,
    Store,
    check_name,
    parse_pathspec,
)

ESCAPES = ["..", "../..", "a/../../etc", "/etc/passwd", "a\x00b", "a\\..\\b", ".hidden", "", "a b"]


@pytest.mark.parametrize("name", [*ESCAPES, "x/y", "x.y", "ä"])
def test_bad_names_are_rejected_with_a_hint(name: str) -> None:
    with pytest.raises(InvalidKeyError) as info:
        check_name("flow", name)
    assert info.value.hint.startswith("a flow name is 1-128 ASCII letters")


@pytest.mark.parametrize("name", ESCAPES)
def test_store_calls_refuse_escaping_names(tmp_path: Path, name: str) -> None:
    store = Store(LocalBackend(tmp_path / "store"))
    with pytest.raises(InvalidKeyError):
        store.records.create_run(name)
    run = store.records.create_run("Safe")
    with pytest.raises(InvalidKeyError):
        store.records.start_task("Safe", run.run_id, name)
    with pytest.raises(InvalidKeyError):
        store.records.start_task("Safe", run.run_id, "step", name)
    with pytest.raises(InvalidKeyError):
        store.records.list_runs(name)
    with pytest.raises(InvalidKeyError):
        store.values.load(name)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["store"]


@pytest.mark.parametrize(
    "text",
    ["Flow/../../etc", "Flow/run/../x", "/abs/path", "Flow//step", "Flow/a/b/c/d", "", "F/r/s t"],
)
def test_bad_pathspecs_are_user_errors(text: str) -> None:
    with pytest.raises(BadPathspecError) as info:
        parse_pathspec(text)
    assert info.value.hint


def test_client_refuses_escaping_pathspecs(tmp_path: Path) -> None:
    store = Store(LocalBackend(tmp_path))
    for make, text in [
        (Flow, ".."),
        (Run, "Flow/.."),
        (Step, "Flow/run/.."),
        (Task, "Flow/run/step/.."),
        (Run, "../../etc"),
    ]:
        with pytest.raises((BadPathspecError, InvalidKeyError)):
            make(text, store=store)


def test_wrong_depth_pathspec_says_what_shape_is_wanted() -> None:
    with pytest.raises(BadPathspecError) as info:
        parse_pathspec("Flow/run", depth=4)
    assert str(info.value).startswith("'Flow/run' is not a task pathspec")
    assert "Flow/RunId/step/TaskId" in info.value.hint


def test_pathspec_parses_each_depth() -> None:
    spec = parse_pathspec("F/r1/train/t-3")
    assert (spec.flow, spec.run_id, spec.step, spec.task_id, spec.depth) == (
        "F",
        "r1",
        "train",
        "t-3",
        4,
    )
    assert str(parse_pathspec("F/r1")) == "F/r1" and parse_pathspec("F").depth == 1
