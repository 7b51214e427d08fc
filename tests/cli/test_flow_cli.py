"""``python flow.py check|show|run`` in-process (CliRunner) and as a user runs it."""

from __future__ import annotations

import inspect
import json
import re
from typing import Any

import pytest
from click.testing import CliRunner

import flowkit
from flowkit.cli.flow_cli import make_cli
from tests.conftest import FLOWS, run_python
from tests.flows.all_shapes import AllShapesFlow
from tests.graph.expected import assert_all_shapes


def invoke(*args: str):
    return CliRunner().invoke(make_cli(AllShapesFlow), list(args), prog_name="all_shapes.py")


def test_check_passes_a_good_flow() -> None:
    result = invoke("check")
    assert result.exit_code == 0
    assert result.output == "AllShapesFlow: 13 steps, no problems found.\n"


def test_show_lists_steps_in_order_with_transitions_and_docs() -> None:
    result = invoke("show")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0] == f"AllShapesFlow  ({FLOWS / 'all_shapes.py'}:7)"
    assert "  --rounds INT  (default 2)  how often the loop repeats" in lines
    steps = [
        row.split()[0] for row in lines[lines.index("Steps") + 1 :] if not row.startswith("     ")
    ]
    assert steps == [
        "start",
        "left",
        "right",
        "merge",
        "fan",
        "leaf",
        "inner_join",
        "outer_join",
        "loop",
        "choose",
        "big",
        "small",
        "end",
    ]
    text = result.output
    assert "start       split -> left, right" in text
    assert "merge       join foreach item of 'outer' -> fan" in text
    assert "loop        switch on 'again': 'yes' -> loop, 'no' -> choose\n" in text
    assert "big         -> end  @catch(var='big_error'" in text
    assert "right       -> merge  @retry(times=2, backoff=1.0, max_delay=60.0)" in text
    assert "Begin." in text and "Finish." in text


def test_show_json_is_the_graph() -> None:
    result = invoke("show", "--json")
    assert result.exit_code == 0
    assert_all_shapes(json.loads(result.output))


def test_run_options_come_from_parameters() -> None:
    result = invoke("run", "--help")
    assert result.exit_code == 0
    assert re.search(r"--rounds INT\s+how often the loop repeats \[default: 2\]", result.output)
    assert result.output.index("--rounds") < result.output.index("--store")


def test_run_rejects_a_bad_parameter_value_without_traceback() -> None:
    result = invoke("run", "--rounds", "many")
    assert result.exit_code == 2
    assert result.output == (
        "error: parameter 'rounds' expects a whole number, got 'many'\n"
        "    hint: pass --rounds with a whole number\n"
    )
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_run_runs_the_flow_and_prints_the_summary(tmp_path) -> None:
    result = invoke("run", "--rounds", "3", "--store", str(tmp_path), "--quiet")
    assert result.exit_code == 0, result.output
    assert "AllShapesFlow/" in result.output and "succeeded" in result.output
    from flowkit import Flow

    run = Flow("AllShapesFlow", store=str(tmp_path)).latest_run
    assert run.successful and sorted(t.data.count for t in run["loop"]) == [1, 2, 3]


def test_run_options_are_listed_with_the_parameters() -> None:
    result = invoke("run", "--help")
    for option in (
        "--store",
        "--max-workers",
        "--max-num-splits",
        "--fail-fast",
        "--quiet",
        "--tag",
    ):
        assert option in result.output


def test_flow_file_as_a_script() -> None:
    path = FLOWS / "all_shapes.py"
    help_result = run_python(path, "--help")
    assert help_result.returncode == 0
    assert "Usage: all_shapes.py [OPTIONS] COMMAND [ARGS]..." in help_result.stdout
    assert "AllShapesFlow: A flow that uses every kind of transition." in help_result.stdout
    for command in ("check", "run", "show"):
        assert f"  {command} " in help_result.stdout
    check = run_python(path, "check")
    assert (check.returncode, check.stdout) == (0, "AllShapesFlow: 13 steps, no problems found.\n")
    bad = run_python(path, "run", "--rounds", "x")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert "parameter 'rounds' expects a whole number, got 'x'" in bad.stderr


def _started_with(monkeypatch: pytest.MonkeyPatch, command: str, *args: str) -> dict[str, Any]:
    """What ``python flow.py COMMAND ARGS`` hands the API (``flowkit.run``/``flowkit.resume``)."""
    import flowkit.surfaces.api

    seen: dict[str, Any] = {}

    def start(flow: type, **given: Any) -> str:
        seen.update(given, flow=flow)
        return "nothing ran"

    monkeypatch.setattr(flowkit.surfaces.api, command, start)
    result = invoke(command, *args)
    assert result.exit_code == 0, result.output
    return seen


def test_every_run_flag_reaches_the_api_under_its_keyword(monkeypatch: pytest.MonkeyPatch) -> None:
    given = ["--store", "s", "--max-workers", "2", "--max-num-splits", "5", "--fail-fast"]
    given += ["--quiet", "--tag", "a", "--tag", "b", "--with", "retry", "--reuse", "--dry-run"]
    given += ["--detach", "--run-id-file", "id.txt", "--runner-attribute-file", "run.json"]
    given += ["--namespace", "team:x"]
    assert _started_with(monkeypatch, "run", *given, "--rounds", "3") == {
        "flow": AllShapesFlow,
        "store": "s",
        "max_workers": 2,
        "max_num_splits": 5,
        "fail_fast": True,
        "quiet": True,
        "tags": ("a", "b"),
        "with_decorators": ("retry",),
        "reuse": True,
        "dry_run": True,
        "detach": True,
        "run_id_file": "id.txt",
        "runner_attribute_file": "run.json",
        "namespace": "team:x",
        "rounds": "3",
    }


def test_resume_hands_its_step_and_origin_to_the_api(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _started_with(monkeypatch, "resume", "merge", "--origin-run-id", "r1", "--tag", "x")
    assert (seen["step"], seen["origin_run_id"], seen["tags"]) == ("merge", "r1", ("x",))
    assert seen["run_id"] is None
    assert (seen["reuse"], seen["dry_run"], seen["store"]) == (False, False, None)
    assert "rounds" not in seen  # not given: the origin run's value is kept


@pytest.mark.parametrize("command", ["run", "resume"])
def test_a_flag_not_given_hands_the_api_its_own_default(
    monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    api = inspect.signature(getattr(flowkit, command)).parameters
    seen = _started_with(monkeypatch, command)
    del seen["flow"]
    assert {"store", "max_num_splits", "tags", "with_decorators", "reuse"} <= set(seen)
    assert seen == {keyword: api[keyword].default for keyword in seen}


def test_tag_is_repeatable_and_tags_still_works(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _started_with(monkeypatch, "run", "--tag", "a", "--tags", "b", "--tag", "c")
    assert seen["tags"] == ("a", "b", "c")


def test_resume_hands_its_run_id_and_run_id_file_to_the_api(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen = _started_with(monkeypatch, "resume", "--run-id", "n1", "--run-id-file", "id.txt")
    assert (seen["run_id"], seen["run_id_file"]) == ("n1", "id.txt")


def test_run_has_no_run_id_option_as_metaflow() -> None:
    result = invoke("run", "--run-id", "n1")
    assert result.exit_code == 2
    assert "No such option '--run-id'" in result.output


def test_dump_and_logs_are_commands_of_the_flow_file() -> None:
    result = invoke("--help")
    assert result.exit_code == 0
    assert "  dump " in result.output and "  logs " in result.output
    logs = invoke("logs", "--help")
    for option in ("--stdout / --no-stdout", "--both / --no-both", "--timestamps", "--attempt"):
        assert option in logs.output
    dump = invoke("dump", "--help")
    for option in ("--private / --no-private", "--max-value-size", "--include", "--file"):
        assert option in dump.output
    missing = invoke("dump")
    assert missing.exit_code == 2 and "Missing argument 'INPUT_PATH'" in missing.output
