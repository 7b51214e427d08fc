"""Packages whose public names load on first use (flowkit/lazy.py): the names a package maps
are exactly the ones it imports for type checkers, and each resolves to the real object."""

from __future__ import annotations

import ast
import importlib
import sys
import types
from pathlib import Path

import pytest

import flowkit
from flowkit.lazy import lazy_exports
from tests.conftest import run_python

ROOT = Path(flowkit.__file__).parent
LAZY = ("flowkit", "flowkit.client", "flowkit.lint", "flowkit.store")


def declared(package: str) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """What ``package``'s ``__init__.py`` imports under TYPE_CHECKING, and what it hands to
    lazy_exports, each as module -> names."""
    path = ROOT.parent.joinpath(*package.split("."), "__init__.py")
    tree = ast.parse(path.read_text())
    typed: dict[str, list[str]] = {}
    mapped: dict[str, list[str]] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "typing.TYPE_CHECKING":
            for imp in node.body:
                assert isinstance(imp, ast.ImportFrom) and imp.module, ast.unparse(imp)
                typed.setdefault(imp.module, []).extend(a.name for a in imp.names)
        elif isinstance(node, ast.Assign) and ast.unparse(node.value).startswith(
            "lazy.lazy_exports("
        ):
            assert isinstance(node.value, ast.Call)
            table = ast.literal_eval(node.value.args[1])
            mapped = {module: list(names) for module, names in table.items()}
    return typed, mapped


@pytest.mark.parametrize("package", LAZY)
def test_the_lazy_names_are_the_type_checked_ones(package: str) -> None:
    typed, mapped = declared(package)
    assert mapped, f"{package} calls no lazy_exports"
    assert typed == mapped


@pytest.mark.parametrize("package", LAZY)
def test_each_lazy_name_is_the_defining_modules_object(package: str) -> None:
    module = importlib.import_module(package)
    _, mapped = declared(package)
    for home, names in mapped.items():
        for name in names:
            assert getattr(module, name) is getattr(importlib.import_module(home), name)
            assert name in vars(module), "a resolved name is kept, not looked up again"
    assert set(module.__all__) - {"__version__"} == {n for ns in mapped.values() for n in ns}


def test_a_name_resolves_once_and_dir_lists_the_unresolved(monkeypatch) -> None:
    package = types.ModuleType("fake_package")
    monkeypatch.setitem(sys.modules, "fake_package", package)
    getattr_, dir_ = lazy_exports("fake_package", {"json": ("dumps", "loads")})
    assert dir_() == sorted({*vars(package), "dumps", "loads"})
    import json

    assert getattr_("dumps") is json.dumps
    assert vars(package)["dumps"] is json.dumps
    with pytest.raises(AttributeError, match="module 'fake_package' has no attribute 'dump'"):
        getattr_("dump")


def test_a_name_that_is_also_a_submodule_stays_the_export(tmp_path, monkeypatch) -> None:
    # Importing a submodule binds it on its package, over a lazy name of the same spelling.
    package = tmp_path / "pkg_with_clash"
    package.mkdir()
    (package / "__init__.py").write_text(
        "from flowkit import lazy\n"
        "__getattr__, __dir__ = lazy.lazy_exports(\n"
        "    __name__, {'pkg_with_clash.namespace': ('namespace',), 'pkg_with_clash.other': ('x',)}\n"
        ")\n"
    )
    (package / "namespace.py").write_text("def namespace():\n    return 'the function'\n")
    (package / "other.py").write_text("import pkg_with_clash.namespace\nx = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        clash = importlib.import_module("pkg_with_clash")
        assert clash.x == 1  # its module imported the submodule
        assert clash.namespace() == "the function"
    finally:
        for name in ("pkg_with_clash", "pkg_with_clash.namespace", "pkg_with_clash.other"):
            sys.modules.pop(name, None)


@pytest.mark.parametrize("package", LAZY)
def test_a_star_import_brings_every_name_in_all(package: str) -> None:
    module = importlib.import_module(package)
    namespace: dict[str, object] = {}
    exec(f"from {package} import *", namespace)
    assert {name: namespace[name] for name in module.__all__} == {
        name: getattr(module, name) for name in module.__all__
    }


def test_a_subpackage_is_an_attribute_after_import_flowkit_alone() -> None:
    # flowkit once imported every layer, so `import flowkit` then `flowkit.client.Flow` worked
    probe = (
        "import flowkit\n"
        "print(flowkit.client.Flow.__name__, flowkit.store.__name__, hasattr(flowkit, 'nope'),"
        " hasattr(flowkit, '_private'))\n"
    )
    result = run_python("-c", probe)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["Flow", "flowkit.store", "False", "False"]
