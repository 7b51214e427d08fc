"""The per-user default store is created private to its user (artifacts are pickles: a store
must be trusted like code); a store folder someone else created keeps its permissions."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

import flowkit
from tests.flows.linear import LinearFlow
from tests.runtime.test_shapes import Quiet


@pytest.fixture
def default_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Where the default store lives with XDG_DATA_HOME under ``tmp_path``, umask 022."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.delenv("FLOWKIT_STORE", raising=False)
    monkeypatch.chdir(tmp_path)  # no pyproject.toml names a store here
    old = os.umask(0o022)
    try:
        yield tmp_path / "data" / "flowkit" / "store"
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_default_store_flowkit_creates_is_private(default_store: Path) -> None:
    run = flowkit.run(LinearFlow, progress=Quiet(), base=10)
    assert run.successful and run["end"].task.data.total == 15
    assert _mode(default_store) == 0o700
    assert _mode(default_store.parent) == 0o755  # only the store itself, not $XDG_DATA_HOME


def test_a_store_folder_that_exists_keeps_its_permissions(default_store: Path) -> None:
    default_store.mkdir(parents=True)
    default_store.chmod(0o750)
    run = flowkit.run(LinearFlow, progress=Quiet(), base=10)
    assert run.successful
    assert _mode(default_store) == 0o750
