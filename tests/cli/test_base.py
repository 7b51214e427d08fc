"""What every command shares: one ``--store`` option, worded and opened the same everywhere."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from flowkit.cli.base import FlowkitGroup, StoreOption
from flowkit.cli.flow_cli import make_cli
from flowkit.cli.main import cli
from tests.conftest import run_python
from tests.flows.linear import LinearFlow


def _commands(group: click.Group, prefix: str) -> dict[str, click.Command]:
    found: dict[str, click.Command] = {}
    ctx = click.Context(group)
    for name in group.list_commands(ctx):  # a lazy command too (FlowkitGroup.add_lazy_command)
        command = group.get_command(ctx, name)
        assert command is not None, name
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
    assert {"flow.py dump", "flow.py logs", "flow.py tag add", "flow.py card view"} <= set(stores)
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


def test_a_lazy_command_is_made_once_when_first_looked_up() -> None:
    group = FlowkitGroup("g")
    made: list[str] = []

    def make() -> click.Command:
        made.append("later")
        return click.Command("later", callback=lambda: click.echo("ran later"))

    group.add_lazy_command("later", make)
    group.add_command(click.Command("now"))
    assert made == []
    assert group.list_commands(click.Context(group)) == ["later", "now"]
    result = CliRunner().invoke(group, ["later"])
    assert (result.exit_code, result.output) == (0, "ran later\n")
    assert CliRunner().invoke(group, ["later"]).output == "ran later\n"
    assert made == ["later"]


def test_a_flow_run_imports_no_command_that_reads_runs(tmp_path: Path) -> None:
    probe = (
        "import sys\n"
        "from flowkit.cli.flow_cli import make_cli\n"
        "from tests.flows.linear import LinearFlow\n"
        "make_cli(LinearFlow).main(['run', '--help'], standalone_mode=False)\n"
        "print(sorted(m for m in sys.modules if m.startswith(('flowkit.cli.', 'flowkit.client'))))\n"
    )
    result = run_python("-c", probe, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    loaded = result.stdout.splitlines()[-1]
    for lazy in ("flow_tag_command", "card_command", "pathspec_commands", "flowkit.client."):
        assert lazy not in loaded, loaded
    assert "flowkit.cli.running" in loaded
