"""The public face: one sorted ``__all__`` that matches the exports, and an import that
has no side effects."""

from __future__ import annotations

import importlib.metadata
import json
import types

import pytest

import flowkit
from tests.conftest import run_python


def test_all_is_sorted_and_unique() -> None:
    assert flowkit.__all__ == sorted(set(flowkit.__all__))


def test_exports_match_all() -> None:
    # The names are imported on first use (flowkit/lazy.py): resolve each, then compare.
    for name in flowkit.__all__:
        getattr(flowkit, name)
    public = {
        name
        for name, value in vars(flowkit).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public | {"__version__"} == set(flowkit.__all__)
    listed = {name for name in dir(flowkit) if not name.startswith("_")}
    assert {n for n in listed if not isinstance(getattr(flowkit, n), types.ModuleType)} == public


def test_the_version_is_the_installed_packages() -> None:
    assert flowkit.__version__ == importlib.metadata.version("flowkit")


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="module 'flowkit' has no attribute 'Flwo'"):
        flowkit.Flwo  # noqa: B018


_PROBE = r"""
import json, os, sys

events = []
CODE = (".py", ".pyc", ".so", ".pth")

def hook(event, args):
    if event == "open":
        path, mode = str(args[0]), args[1]
        if not path.endswith(CODE) and "__pycache__" not in path:
            events.append(["open", path, str(mode)])
    elif event in ("os.remove", "os.rename", "os.mkdir", "os.rmdir", "shutil.rmtree",
                   "subprocess.Popen", "socket.connect", "os.system"):
        events.append([event, str(args[0]) if args else ""])

class SpyEnviron(dict):
    reads = []
    def __getitem__(self, key):
        self.reads.append(key); return super().__getitem__(key)
    def get(self, key, default=None):
        self.reads.append(key); return super().get(key, default)
    def __contains__(self, key):
        self.reads.append(key); return super().__contains__(key)

real = os.environ
os.environ = SpyEnviron(real)
before = set(sys.modules)
sys.addaudithook(hook)
import flowkit
os.environ = real
print(json.dumps({
    "events": events,
    "env_reads": [k for k in SpyEnviron.reads if k.startswith("FLOWKIT")],
    "modules": sorted(set(sys.modules) - before),
}))
"""


def test_import_has_no_side_effects(tmp_path) -> None:
    result = run_python("-c", _PROBE, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["events"] == [], "import flowkit touched files or processes"
    assert report["env_reads"] == [], "import flowkit read FLOWKIT_* settings"
    loaded = set(report["modules"])
    # The public names are imported on first use: the package itself is all that loads.
    assert {m for m in loaded if m.startswith("flowkit")} == {
        "flowkit",
        "flowkit.lazy",
        "flowkit.version",
    }
    for heavy in (
        "click",
        "cloudpickle",
        "flowkit.cli.main",
        "flowkit.settings",
        "importlib.metadata",
        "numpy",
        "dataclasses",
        "inspect",
        "pathlib",
        "urllib.request",
    ):
        assert heavy not in loaded, f"import flowkit loaded {heavy}"
    assert list(tmp_path.iterdir()) == []
