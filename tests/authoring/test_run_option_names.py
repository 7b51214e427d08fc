"""One list of run options: lint refuses a parameter named like one, and the API's keywords
and the command line's flags are exactly that list."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import click
import pytest

import flowkit
from flowkit.authoring.loader import load_flow_file
from flowkit.authoring.names import RUN_OPTION_NAMES
from flowkit.cli.flow_cli import make_cli
from tests.conftest import FLOWS
from tests.flows.linear import LinearFlow


def _api_names(func: Callable[..., Any]) -> set[str]:
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return {p.name for p in inspect.signature(func).parameters.values() if p.kind in kinds}


def _cli_names(command: click.Command) -> set[str]:
    flow_params = {"base"}
    names = {str(p.name) for p in command.params} - flow_params
    return names | {"help"}


def test_the_api_and_the_command_line_use_exactly_the_listed_names() -> None:
    used = _api_names(flowkit.run) | _api_names(flowkit.resume)
    group = make_cli(LinearFlow)
    for name in ("run", "resume"):
        command = group.commands[name]
        assert isinstance(command, click.Command)
        used |= _cli_names(command)
    used |= {"with"}  # --with's dest is with_; a parameter may be called either
    assert used == RUN_OPTION_NAMES


@pytest.mark.parametrize("value", ["yes", True])
def test_the_api_refuses_a_flow_whose_parameter_a_run_option_shadows(value: object) -> None:
    flow = load_flow_file(FLOWS / "bad" / "parameter_clash.py")
    with pytest.raises(flowkit.LintError) as info:
        flowkit.run(flow, reuse=value, store="memory://run-option-names")
    messages = [p.message for p in info.value.problems]
    assert "parameter 'reuse' has the name of the run option --reuse" in messages
    assert "parameter 'max-workers' has the name of the run option --max-workers" in messages
