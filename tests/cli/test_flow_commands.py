"""``check`` and ``show`` of a flow say the same, whichever command line asks:
``flowkit check|show FILE`` or ``python flow.py check|show``."""

from __future__ import annotations

import pytest
from click.testing import CliRunner, Result

from flowkit.authoring.loader import load_flow_file
from flowkit.cli.flow_cli import make_cli
from flowkit.cli.main import cli
from tests.conftest import FLOWS


def _both(file: str, *args: str) -> tuple[Result, Result]:
    path = FLOWS / file
    by_path = CliRunner().invoke(cli, [args[0], str(path), *args[1:]])
    by_flow = CliRunner().invoke(make_cli(load_flow_file(path)), list(args))
    return by_path, by_flow


@pytest.mark.parametrize(
    "args", [("check",), ("show",), ("show", "--json")], ids=["check", "show", "show-json"]
)
def test_both_command_lines_say_the_same(args: tuple[str, ...]) -> None:
    by_path, by_flow = _both("all_shapes.py", *args)
    assert by_path.exit_code == by_flow.exit_code == 0, by_path.output + by_flow.output
    assert by_path.output == by_flow.output
    assert "AllShapesFlow" in by_path.output


def test_both_report_lint_problems_alike() -> None:
    by_path, by_flow = _both("bad/cycle.py", "check")
    assert by_path.exit_code == by_flow.exit_code == 1
    assert by_path.output == by_flow.output
    assert by_path.output.startswith("CycleFlow has 2 problems; nothing was run.")
