"""One table of run options: lint refuses a parameter named like one, and the API's keywords
and the command line's flags are exactly that table."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import click
import pytest

import flowkit
from flowkit.authoring.loader import load_flow_file
from flowkit.authoring.names import RUN_OPTION_NAMES, RUN_OPTIONS, run_option_named
from flowkit.cli.flow_cli import make_cli
from tests.conftest import FLOWS
from tests.flows.linear import LinearFlow


def _api_names(func: Callable[..., Any]) -> set[str]:
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return {p.name for p in inspect.signature(func).parameters.values() if p.kind in kinds}


def _cli_options(command: click.Command) -> dict[str, str]:
    """What the command passes on (a keyword) -> the flag a user types, flow parameters aside."""
    flow_params = {"base"}
    return {
        str(p.name): p.opts[0].removeprefix("--")
        for p in command.params
        if p.name not in flow_params
    }


@pytest.mark.parametrize("command", ["run", "resume"])
def test_the_api_and_the_command_line_take_exactly_the_listed_options(command: str) -> None:
    listed = [o for o in RUN_OPTIONS if command == "resume" or not o.resume_only]
    api = getattr(flowkit, command)
    assert _api_names(api) == {o.keyword for o in listed}
    cli = make_cli(LinearFlow).commands[command]
    assert isinstance(cli, click.Command)
    # each flag is passed on under the API's keyword for it, so the CLI hands them on as given
    assert _cli_options(cli) == {o.keyword: o.flag for o in listed if o.flag}


def test_no_parameter_may_have_the_name_of_an_option_keyword_or_flag() -> None:
    assert {"help", "tag", "tags", "with", "with_decorators", "dry_run"} <= RUN_OPTION_NAMES
    assert {o.keyword for o in RUN_OPTIONS} <= RUN_OPTION_NAMES
    assert run_option_named("max-num-splits") == "max_num_splits"
    assert run_option_named("alpha") is None


@pytest.mark.parametrize("value", ["yes", True])
def test_the_api_refuses_a_flow_whose_parameter_a_run_option_shadows(value: object) -> None:
    flow = load_flow_file(FLOWS / "bad" / "parameter_clash.py")
    with pytest.raises(flowkit.LintError) as info:
        flowkit.run(flow, reuse=value, store="memory://run-option-names")
    messages = [p.message for p in info.value.problems]
    assert "parameter 'reuse' has the name of the run option --reuse" in messages
    assert "parameter 'max-workers' has the name of the run option --max-workers" in messages
