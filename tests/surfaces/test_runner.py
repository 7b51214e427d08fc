"""How ``Runner`` turns Metaflow-style keyword arguments into ``python flow.py run|resume``
arguments, and what it refuses before starting anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowkit.errors import FlowkitError
from flowkit.surfaces.nbrunner import _api_keywords
from flowkit.surfaces.runner import Runner, command_line
from flowkit.surfaces.runner_command import merge_keywords


def test_run_options_become_their_flags_and_the_rest_parameters() -> None:
    top = {"decospecs": ["retry", "catch"], "max_workers": 2, "pylint": False, "tags": "t0"}
    given = {"alpha": 0.5, "config": {"a": [1]}, "tags": ["t1", "t2"], "fail_fast": True}
    given |= {"quiet": False, "my_param": "x y", "skip": None}
    assert command_line("run", top, given) == [
        "run",
        "--with",
        "retry",
        "--with",
        "catch",
        "--max-workers",
        "2",
        "--tag",
        "t0",
        "--tag",
        "t1",
        "--tag",
        "t2",
        "--fail-fast",
        "--alpha",
        "0.5",
        "--config",
        '{"a": [1]}',
        "--my-param",
        "x y",
    ]


def test_resume_takes_its_step_origin_and_run_id() -> None:
    args = command_line(
        "resume", {}, {"step_to_rerun": "join", "origin_run_id": "r1", "run_id": "n1"}
    )
    assert args == ["resume", "--origin-run-id", "r1", "--run-id", "n1", "join"]
    assert command_line("resume", {}, {"step": "end"}) == ["resume", "end"]


@pytest.mark.parametrize(
    ("command", "top", "given", "message"),
    [
        ("run", {"metadata": "x"}, {}, "Runner(...) has no option metadata='x' in flowkit"),
        (
            "run",
            {"origin_run_id": "r"},
            {},
            "Runner(...) has no option origin_run_id='r' in flowkit",
        ),
        ("run", {}, {"origin_run_id": "r"}, "run() takes no option origin_run_id: run has none"),
        (
            "resume",
            {},
            {"runner_attribute_file": "f"},
            "resume() takes no option runner_attribute_file: the Runner gives it itself",
        ),
        ("run", {"dry_run": True}, {}, "Runner(...) has no option dry_run=True in flowkit"),
        (
            "run",
            {},
            {"dry_run": True},
            "run() takes no option dry_run: a Runner returns a run, and a dry run starts none; "
            "preview with flowkit.run(flow, reuse=True, dry_run=True)",
        ),
    ],
)
def test_options_flowkit_lacks_are_refused(
    command: str, top: dict[str, object], given: dict[str, object], message: str
) -> None:
    with pytest.raises(FlowkitError) as info:
        command_line(command, top, given)
    assert info.value.message == message
    assert info.value.hint


def test_runner_refuses_a_missing_file_and_a_profile(tmp_path: Path) -> None:
    with pytest.raises(FlowkitError, match="Runner: no flow file at"):
        Runner(str(tmp_path / "nope.py"))
    (tmp_path / "flow.py").write_text("")
    with pytest.raises(FlowkitError, match="flowkit has no Metaflow profiles"):
        Runner(str(tmp_path / "flow.py"), profile="dev")
    with pytest.raises(FlowkitError, match=r"Runner\(...\) has no option environment='conda'"):
        Runner(str(tmp_path / "flow.py"), environment="conda")


def test_nbrunner_keywords_are_flowkit_run_keywords() -> None:
    assert _api_keywords({"decospecs": "retry", "tags": "a", "pylint": False}, top_level=True) == {
        "with_decorators": ["retry"],
        "tags": ["a"],
    }
    assert _api_keywords({"step_to_rerun": "end", "alpha": 1}, top_level=False) == {
        "step": "end",
        "alpha": 1,
    }
    with pytest.raises(FlowkitError, match=r"NBRunner\(...\) has no option alpha=1"):
        _api_keywords({"alpha": 1}, top_level=True)
    with pytest.raises(FlowkitError, match="NBRunner takes no option dry_run: a Runner returns"):
        _api_keywords({"dry_run": True}, top_level=False)


def test_metaflow_top_level_options_come_before_the_command() -> None:
    top = {
        "config": [("cfg", Path("cfg.json"))],
        "config_value": {"other": {"a": 1}, "text": '{"b": 2}'},
        "branch": "feat",
        "production": True,
        "max_workers": 2,
    }
    assert command_line("run", top, {"branch": "dev"}) == [
        "--config",
        "cfg",
        "cfg.json",
        "--config-value",
        "other",
        '{"a": 1}',
        "--config-value",
        "text",
        '{"b": 2}',
        "--branch",
        "feat",
        "--production",
        "run",
        "--max-workers",
        "2",
        "--branch",  # the call's branch: the flow's parameter of that name
        "dev",
    ]
    assert command_line("resume", {"production": False}, {}) == ["resume"]
    with pytest.raises(FlowkitError, match=r"config=\['cfg'\] is not a list of \(name, value\)"):
        command_line("run", {"config": ["cfg"]}, {})


def test_nbrunner_top_level_options_are_flowkit_run_keywords() -> None:
    top = {"config": [("cfg", "cfg.json")], "config_value": [("other", {"a": 1})]}
    top |= {"branch": "feat", "production": True}
    assert _api_keywords(top, top_level=True) == {
        "cfg": Path("cfg.json"),
        "other": {"a": 1},
        "project_branch": "feat",
        "project_production": True,
    }
    # in a call, branch and production are the flow's parameters
    assert _api_keywords({"branch": "dev", "production": True}, top_level=False) == {
        "branch": "dev",
        "production": True,
    }


def test_tags_given_to_the_runner_and_to_the_call_both_tag_the_run() -> None:
    assert merge_keywords({"tags": "a", "quiet": True}, {"tags": ["b"], "quiet": False}) == {
        "tags": ["a", "b"],
        "quiet": False,
    }
    assert merge_keywords({"tags": ["a"]}, {}) == {"tags": ["a"]}
