"""``flowkit ui``'s command line: its options, a missing ui extra, and the token decision."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from flowkit.cli.main import cli
from flowkit.ui.server import UiOptions, address, token_for


def test_help_names_every_option() -> None:
    result = CliRunner().invoke(cli, ["ui", "--help"])
    assert result.exit_code == 0
    for option in ("--store", "--host", "--port", "--token", "--allow-writes", "--no-browser"):
        assert option in result.output


@pytest.mark.parametrize("missing", ["uvicorn", "starlette"])
def test_a_missing_ui_extra_says_what_to_install(
    missing: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, missing, None)  # import of it raises ImportError
    result = CliRunner().invoke(cli, ["ui", "--store", str(tmp_path), "--no-browser"])
    assert result.exit_code != 0
    assert "flowkit ui needs starlette and uvicorn" in result.output
    assert 'pip install "flowkit[ui]"' in result.output


def test_a_bad_port_is_refused() -> None:
    result = CliRunner().invoke(cli, ["ui", "--port", "70000", "--no-browser"])
    assert result.exit_code == 2
    assert "70000" in result.output


def test_loopback_needs_no_token_and_another_address_gets_one() -> None:
    assert token_for(UiOptions(host="127.0.0.1")) is None
    assert token_for(UiOptions(host="127.0.0.1", token="given")) == "given"
    made = token_for(UiOptions(host="0.0.0.0"))
    assert made is not None and len(made) >= 30
    assert token_for(UiOptions(host="0.0.0.0")) != made
    assert token_for(UiOptions(host="0.0.0.0", token="given")) == "given"


def test_the_printed_address_carries_the_token() -> None:
    assert address("127.0.0.1", 8808, None) == "http://127.0.0.1:8808/"
    assert address("0.0.0.0", 80, "a b") == "http://0.0.0.0:80/?token=a%20b"
    assert address("::1", 9000, None) == "http://[::1]:9000/"
