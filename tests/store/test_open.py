"""Opening a store: from a path, a URL, settings; and import stays cheap."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

import flowkit
from flowkit.settings import Settings
from flowkit.store import LocalBackend, MemoryBackend, UnknownStoreError, open_store
from tests.flows.linear import LinearFlow
from tests.runtime.test_shapes import Quiet

ROOT = Path(__file__).resolve().parents[2]


def test_settings_decide_the_root(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.flowkit]\nstore = "data/store"\n')
    project = Settings.resolve(environ={}, cwd=tmp_path)
    backend = open_store(project).backend
    assert isinstance(backend, LocalBackend) and backend.root == str(tmp_path / "data" / "store")
    env = Settings.resolve(environ={"FLOWKIT_STORE": str(tmp_path / "env")}, cwd=tmp_path)
    assert open_store(env).url == str(tmp_path / "env")
    flag = Settings.resolve({"store": str(tmp_path / "flag")}, environ={}, cwd=tmp_path)
    assert open_store(flag).url == str(tmp_path / "flag")


def test_paths_and_urls(tmp_path: Path) -> None:
    assert open_store(tmp_path).url == str(tmp_path)
    assert open_store(f"file://{tmp_path}").url == str(tmp_path)
    first, second = open_store("memory://shared"), open_store("memory://shared")
    assert isinstance(first.backend, MemoryBackend) and first.backend is second.backend
    assert open_store(first) is first


def test_unknown_scheme_says_what_to_install() -> None:
    with pytest.raises(UnknownStoreError) as info:
        open_store("gopher://bucket/x")
    assert "no installed store backend handles gopher://" in str(info.value)
    assert "flowkit.stores" in info.value.hint


def test_opening_does_no_io(tmp_path: Path) -> None:
    open_store(tmp_path / "not-yet")
    assert not (tmp_path / "not-yet").exists()


def test_client_import_is_light(tmp_path: Path) -> None:
    """Nor dataclasses and inspect: flowkit's data classes are made by flowkit.fastdata. A
    read of the latest run's artifact imports neither pathlib (urllib.parse, ipaddress, ...),
    getpass (termios) nor datetime, which it asks no time of; nor hashlib (OpenSSL), which
    only blobs of the SHA-256 format need, nor the in-memory backend."""
    flowkit.run(LinearFlow, store=str(tmp_path / "store"), progress=Quiet())
    code = (
        "import sys, flowkit.client, flowkit.store, flowkit.store.store, flowkit.settings; "
        "from flowkit import Flow; "
        "total = Flow('LinearFlow').latest_run.data.total; "
        "print(total, sorted(m for m in ('numpy', 'cloudpickle', 'click', 'socket', "
        "'importlib.metadata', 'dataclasses', 'inspect', 'pathlib', 'getpass', 'datetime', "
        "'hashlib', 'flowkit.store.memory') "
        "if m in sys.modules))"
    )
    # -S, with site-packages on the path instead: the editable install's import hook (a .pth
    # that site runs) imports pathlib in every process of the dev environment, and users'
    # regular installs have no such hook.
    path = os.pathsep.join([str(ROOT), sysconfig.get_paths()["purelib"]])
    env = {**os.environ, "FLOWKIT_STORE": str(tmp_path / "store"), "PYTHONPATH": path}
    done = subprocess.run(
        [sys.executable, "-S", "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "6 []"
