"""Settings precedence: argument > FLOWKIT_* > [tool.flowkit] > default."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import NoReturn

import pytest

import flowkit
from flowkit.errors import FlowkitError
from flowkit.settings import Settings, current_user
from flowkit.store.errors import StoreError
from tests.conftest import FLOWS, ROOT, run_python


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
    known = "alerts, gc_grace, gc_keep_last, gc_keep_newer_than, gc_keep_tags, hooks, max_workers"
    assert f"known settings are: {known}, retry, sla_learned, store" in info.value.render()
    with pytest.raises(FlowkitError, match="max_workers must be a positive integer"):
        Settings.resolve(environ={"FLOWKIT_MAX_WORKERS": "zero"}, cwd=tmp_path.parent)


@pytest.mark.parametrize("name", ["FLOWKIT_STORE", "FLOWKIT_MAX_WORKERS", "FLOWKIT_RETRY"])
@pytest.mark.parametrize("value", ["", "  "])
def test_an_empty_variable_is_an_error_not_the_default(
    tmp_path: Path, name: str, value: str
) -> None:
    with pytest.raises(FlowkitError) as info:
        Settings.resolve(environ={name: value}, cwd=tmp_path)
    assert info.value.message == f"{name} is set but empty"
    assert f"unset it (unset {name})" in info.value.hint


def _run_long_linear(store_env: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "FLOWKIT_STORE": store_env}
    env["XDG_DATA_HOME"] = str(tmp_path / "xdg")
    return subprocess.run(
        [sys.executable, str(FLOWS / "long_linear.py"), "run", "--quiet"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_run_refuses_an_empty_flowkit_store(tmp_path: Path) -> None:
    result = _run_long_linear("", tmp_path)
    assert result.returncode == 1, result.stderr
    assert "FLOWKIT_STORE is set but empty" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "xdg").exists()  # nothing went to the default store


def test_a_store_that_is_a_file_is_refused_and_left_alone(tmp_path: Path) -> None:
    target = tmp_path / "notes.txt"
    target.write_text("mine\n")
    result = _run_long_linear(str(target), tmp_path)
    assert result.returncode == 1, result.stderr
    assert f"the store location {target} (from FLOWKIT_STORE) is a file, not a folder" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr and target.read_text() == "mine\n"
    with pytest.raises(StoreError, match="is a file, not a folder"):
        flowkit.Flow("LongLinearFlow", store=str(target)).latest_run  # noqa: B018
    with pytest.raises(StoreError, match="the store location is empty"):
        flowkit.Flow("LongLinearFlow", store="")


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"FLOWKIT_USER": "ci-bot", "LOGNAME": "ada"}, "ci-bot"),
        ({"LOGNAME": "ada", "USER": "other"}, "ada"),  # getpass's order, not just $USER
    ],
)
def test_a_run_record_names_its_user_the_one_way(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, environ: dict[str, str], expected: str
) -> None:
    from flowkit.store import open_store

    for name in ("FLOWKIT_USER", "LOGNAME", "USER", "LNAME", "USERNAME"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    assert current_user() == expected
    record = open_store(str(tmp_path / "store")).records.create_run("F")
    assert record.user == expected


def test_without_a_login_name_the_user_is_the_password_database_s_or_none(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import pwd

    for name in ("FLOWKIT_USER", "LOGNAME", "USER", "LNAME", "USERNAME"):
        monkeypatch.delenv(name, raising=False)
    assert current_user() == pwd.getpwuid(os.getuid()).pw_name
    monkeypatch.setattr(pwd, "getpwuid", _no_password_entry)
    assert current_user() is None  # a bare container


def _no_password_entry(uid: int) -> NoReturn:
    raise KeyError(f"getpwuid(): uid not found: {uid}")


def test_a_project_store_under_home_or_relative_to_the_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    cwd = _project(tmp_path, 'store = "~/stores//mine/"')
    assert Settings.resolve(environ={}, cwd=cwd).store == str(tmp_path / "home" / "stores" / "mine")
    (tmp_path / "pyproject.toml").write_text('[tool.flowkit]\nstore = "./data/../store"\n')
    assert Settings.resolve(environ={}, cwd=str(cwd)).store == str(tmp_path.resolve() / "store")
    monkeypatch.delenv("HOME")
    monkeypatch.setattr("pwd.getpwuid", _no_password_entry)
    with pytest.raises(RuntimeError, match="Could not determine home directory"):
        Settings.resolve(environ={}, cwd=tmp_path.parent)  # the default store is under ~


def test_without_a_pyproject_no_toml_parser_is_imported(tmp_path: Path) -> None:
    probe = (
        "import sys\n"
        "from flowkit.settings import Settings\n"
        "settings = Settings.resolve(environ={'FLOWKIT_STORE': 'memory://x'})\n"
        "print(settings.store, settings.source['max_workers'], 'tomllib' in sys.modules)\n"
    )
    result = run_python("-c", probe, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["memory://x", "default", "False"]
