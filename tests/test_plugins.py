"""Plug-ins flowkit ships are found without reading the installed packages' metadata, and
are the same ones its pyproject.toml registers as entry points."""

from __future__ import annotations

import json
from importlib.metadata import distribution
from pathlib import Path

import pytest

from flowkit import plugins
from flowkit.executor.local import LocalExecutor
from tests.conftest import run_python


def test_the_builtin_plugins_are_flowkits_entry_points() -> None:
    registered: dict[str, dict[str, str]] = {}
    for entry in distribution("flowkit").entry_points:
        if entry.group in plugins._BUILTIN:
            registered.setdefault(entry.group, {})[entry.name] = entry.value
    assert registered == plugins._BUILTIN


def test_the_local_executor_is_found_as_its_entry_point_names_it() -> None:
    assert plugins.is_installed(plugins.EXECUTORS, "local")
    assert plugins.find_plugin(plugins.EXECUTORS, "local") is LocalExecutor
    assert plugins.load_plugin(plugins.EXECUTORS, "local") is LocalExecutor
    assert (
        plugins.entry_point(plugins.EXECUTORS, "local")
        == "flowkit.executors = flowkit.executor.local:LocalExecutor"
    )


def test_finding_the_local_executor_reads_no_package_metadata() -> None:
    probe = (
        "import json, sys\n"
        "from flowkit import plugins\n"
        "found = plugins.load_plugin(plugins.EXECUTORS, 'local')\n"
        "print(json.dumps([found.__name__, 'importlib.metadata' in sys.modules]))\n"
    )
    result = run_python("-c", probe)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == ["LocalExecutor", False]


def test_a_name_no_package_provides_is_still_missing() -> None:
    assert not plugins.is_installed(plugins.EXECUTORS, "no-such-executor")
    assert plugins.find_plugin(plugins.EXECUTORS, "no-such-executor") is None
    assert plugins.entry_point(plugins.EXECUTORS, "no-such-executor") == plugins.EXECUTORS


def test_a_builtin_plugin_that_fails_to_import_says_which_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "broken_executor.py").write_text("raise RuntimeError('half-installed')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(
        plugins._BUILTIN, plugins.EXECUTORS, {"local": "broken_executor:LocalExecutor"}
    )
    with pytest.raises(plugins.PluginLoadError) as caught:
        plugins.load_plugin(plugins.EXECUTORS, "local")
    assert caught.value.message == (
        "the plug-in 'local' (flowkit.executors = broken_executor:LocalExecutor) failed to "
        "load: RuntimeError: half-installed"
    )
