"""Settings precedence: argument > FLOWKIT_* > [tool.flowkit] > default."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowkit.errors import FlowkitError
from flowkit.settings import Settings


def _project(tmp_path: Path, body: str) -> Path:
    (tmp_path / "pyproject.toml").write_text(f"[tool.flowkit]\n{body}\n")
    sub = tmp_path / "src" / "deep"
    sub.mkdir(parents=True)
    return sub


def test_precedence(tmp_path: Path) -> None:
    cwd = _project(tmp_path, 'store = "data/store"\nmax_workers = 3')
    from_project = Settings.resolve(environ={}, cwd=cwd)
    assert from_project.store == str(tmp_path / "data" / "store")
    assert from_project.max_workers == 3
    assert from_project.source["store"].startswith("[tool.flowkit]")
    from_env = Settings.resolve(environ={"FLOWKIT_STORE": "/env/store"}, cwd=cwd)
    assert from_env.store == "/env/store" and from_env.source["store"] == "FLOWKIT_STORE"
    explicit = Settings.resolve({"store": "/arg"}, environ={"FLOWKIT_STORE": "/env"}, cwd=cwd)
    assert explicit.store == "/arg" and explicit.source["store"] == "argument"


def test_default_is_per_user_and_the_same_from_any_directory(tmp_path: Path) -> None:
    env = {"XDG_DATA_HOME": str(tmp_path / "xdg")}
    a = Settings.resolve(environ=env, cwd=tmp_path)
    b = Settings.resolve(environ=env, cwd=Path("/"))
    assert a.store == b.store == str(tmp_path / "xdg" / "flowkit" / "store")


def test_bad_project_settings_are_reported(tmp_path: Path) -> None:
    cwd = _project(tmp_path, "stoer = 1")
    with pytest.raises(FlowkitError, match=r"unknown setting.*stoer") as info:
        Settings.resolve(environ={}, cwd=cwd)
    assert "known settings are: alerts, max_workers, retry, store" in info.value.render()
    with pytest.raises(FlowkitError, match="max_workers must be a positive integer"):
        Settings.resolve(environ={"FLOWKIT_MAX_WORKERS": "zero"}, cwd=tmp_path.parent)
