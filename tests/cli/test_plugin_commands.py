"""Commands from installed packages (``flowkit.commands``): one that does not load is listed as
such by ``flowkit --help`` and refused when run, the rest of the CLI working (review R3 #11)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from flowkit.cli.main import cli


@pytest.fixture
def broken_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    info = tmp_path / "brokenplug-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: brokenplug\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[flowkit.commands]\nbroken = no_such_module:cmd\n")
    monkeypatch.setattr(sys, "path", [str(tmp_path), *sys.path])


def test_a_command_that_does_not_load_is_listed_and_refused_when_run(
    broken_plugin: None,
) -> None:
    shown = CliRunner().invoke(cli, ["--help"])
    assert shown.exit_code == 0, shown.output
    line = next(x for x in shown.output.splitlines() if x.strip().startswith("broken"))
    assert "failed to load: the plug-in 'broken'" in line
    assert "  runs " in shown.output  # the others are there

    ran = CliRunner().invoke(cli, ["broken", "anything", "--flag"])
    assert ran.exit_code == 1
    assert "the plug-in 'broken' (flowkit.commands = no_such_module:cmd) failed to load" in (
        ran.output
    )
    assert "No module named 'no_such_module'" in ran.output
    assert "Traceback" not in ran.output
