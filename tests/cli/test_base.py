"""What every command shares: one ``--store`` option, worded and opened the same everywhere."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from flowkit.cli.base import StoreOption
from flowkit.cli.flow_cli import make_cli
from flowkit.cli.main import cli
from tests.flows.linear import LinearFlow


def _commands(group: click.Group, prefix: str) -> dict[str, click.Command]:
    found: dict[str, click.Command] = {}
    for name, command in group.commands.items():
        found[f"{prefix} {name}"] = command
        if isinstance(command, click.Group):
            found |= _commands(command, f"{prefix} {name}")
    return found


def test_every_store_option_is_the_one_definition() -> None:
    commands = _commands(cli, "flowkit") | _commands(make_cli(LinearFlow), "flow.py")
    stores = {
        where: param
        for where, command in commands.items()
        for param in command.params
        if "--store" in param.opts
    }
    assert {"flowkit show", "flowkit fsck", "flowkit dlq retry", "flowkit notebook"} <= set(stores)
    assert {"flowkit runs", "flowkit logs", "flow.py run", "flow.py resume"} <= set(stores)
    for where, param in stores.items():
        assert isinstance(param, StoreOption), where
        assert isinstance(param, click.Option)
        assert (param.metavar, param.help) == (
            "PATH|URL",
            "Store root (default: FLOWKIT_STORE, [tool.flowkit] store, or the user store).",
        ), where


def test_the_flag_wins_over_the_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FLOWKIT_STORE", str(tmp_path / "from-env"))
    given = CliRunner().invoke(cli, ["dlq", "list", "--store", str(tmp_path / "given")])
    from_env = CliRunner().invoke(cli, ["dlq", "list"])
    assert given.output == f"no dead letters in {tmp_path / 'given'}\n"
    assert from_env.output == f"no dead letters in {tmp_path / 'from-env'}\n"
