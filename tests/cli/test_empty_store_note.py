"""fsck and gc on a store that holds no run say so: a mistyped --store must not read as
"no problems found"."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from flowkit.cli.main import cli
from flowkit.store import LocalBackend, Store
from flowkit.testing.fake_run import FakeTask, write_fake_run

NOTE = "holds no runs; if yours are elsewhere, point at them with --store or FLOWKIT_STORE"


@pytest.mark.parametrize("command", [["fsck"], ["gc", "--keep-last", "1"]], ids=["fsck", "gc"])
def test_an_empty_or_missing_store_gets_a_note(command: list[str], tmp_path: Path) -> None:
    missing = tmp_path / "typo"
    result = CliRunner().invoke(cli, [*command, "--store", str(missing)])
    assert result.exit_code == 0, result.output
    assert f"the store at {missing} {NOTE}" in result.stderr
    store = Store(LocalBackend(tmp_path / "real", durable=False))
    write_fake_run(store, "F", {"start": [FakeTask({"x": 1})]})
    result = CliRunner().invoke(cli, [*command, "--store", str(tmp_path / "real")])
    assert result.exit_code == 0, result.output
    assert NOTE not in result.stderr
