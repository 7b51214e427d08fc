"""The layers of DESIGN.md §2 only import downwards: a test, so that a cycle cannot creep back.

Every ``import`` counts: module level, inside a function, and under ``if TYPE_CHECKING``
(a type-only import still ties the two layers' vocabularies together).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import flowkit

#: Bottom to top. A module may import its own layer and the layers below it, never above.
#: ``flowkit/errors.py``, ``settings.py``, ``plugins.py``, ``lazy.py``, ``version.py``,
#: ``fastdata.py``, ``caches.py``, ``files.py`` and ``exits.py`` are the base every layer may use;
#: the entry points (``flowkit/__init__.py``, ``__main__.py``, ``worker.py``, ``driver.py``,
#: ``testing``) sit on top and may use anything.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors", "settings", "plugins", "lazy", "version", "fastdata", "caches", "files", "exits"),
    ("store",),
    ("authoring",),
    ("graph",),
    ("lint",),
    ("plan",),
    ("client",),
    ("task",),
    ("executor",),
    ("runtime",),
    ("surfaces", "notebook", "ui", "export", "deploy"),
    ("cli",),
    ("__init__", "__main__", "worker", "driver", "testing", "cards"),
)

ROOT = Path(flowkit.__file__).parent


def layer_of(module: str) -> int:
    """The layer index of a ``flowkit.…`` module name (its first component below flowkit)."""
    parts = module.split(".")
    assert parts[0] == "flowkit", module
    first = parts[1] if len(parts) > 1 else "__init__"
    for index, names in enumerate(LAYERS):
        if first in names:
            return index
    raise AssertionError(
        f"flowkit.{first} is in no layer: add it to LAYERS in {__file__} (and DESIGN.md §2)"
    )


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    return ".".join(parts)


def imported(tree: ast.AST, module: str, is_package: bool) -> list[tuple[str, int]]:
    """Every flowkit module ``tree`` imports, with the line, wherever the import statement is."""
    found: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base if is_package else base[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            if target == "flowkit":  # ``from flowkit import x``: x names a module or an export
                # an export (``from flowkit import FlowSpec``) comes from the top: the package
                known = {name for names in LAYERS for name in names}
                found += [
                    (f"flowkit.{alias.name}" if alias.name in known else "flowkit", node.lineno)
                    for alias in node.names
                ]
            else:
                found.append((target, node.lineno))
        elif isinstance(node, ast.Call) and _imports_by_name(node.func):
            # importlib.import_module("flowkit.x") / __import__("flowkit.x"): an import still
            first = node.args[0] if node.args else None
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                found.append((first.value, node.lineno))
    return [(name, line) for name, line in found if name.split(".")[0] == "flowkit"]


def _imports_by_name(func: ast.expr) -> bool:
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    return name in ("import_module", "__import__")


def upward_imports(root: Path) -> list[str]:
    """``file:line: a -> b`` for each import in the package at ``root`` that points up."""
    problems = []
    for path in sorted(root.rglob("*.py")):
        module = module_name(path, root)
        here = layer_of(module)
        tree = ast.parse(path.read_text(), str(path))
        for target, line in imported(tree, module, path.name == "__init__.py"):
            if target.split(".")[1:2] in (["__init__"], []) and target != "flowkit":
                continue
            there = layer_of(target) if target != "flowkit" else len(LAYERS) - 1
            if there > here:
                names = "/".join(LAYERS[there])
                problems.append(
                    f"{path.relative_to(root.parent)}:{line}: {module} imports {target} "
                    f"(layer '{names}' is above '{'/'.join(LAYERS[here])}')"
                )
    return problems


def test_no_import_points_up() -> None:
    problems = upward_imports(ROOT)
    assert not problems, "imports that point up a layer:\n" + "\n".join(problems)


@pytest.mark.parametrize(
    ("source", "where"),
    [
        ("from flowkit.runtime.scheduler import Scheduler\n", "module level"),
        ("def f():\n    from flowkit.cli import main\n", "inside a function"),
        (
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import flowkit.surfaces.terminal\n",
            "under TYPE_CHECKING",
        ),
        ("from flowkit import client\n", "a package imported by name"),
        ("import importlib\nimportlib.import_module('flowkit.runtime.api')\n", "by a string"),
        ("def f():\n    return __import__('flowkit.cli.main')\n", "by __import__"),
        ("from flowkit import FlowSpec\n", "the public API, from the top"),
    ],
)
def test_an_upward_import_in_a_synthetic_module_is_found(
    tmp_path: Path, source: str, where: str
) -> None:
    # A copy of the store layer with one module that imports from above it.
    package = tmp_path / "flowkit"
    (package / "store").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "store" / "__init__.py").write_text("from flowkit.store import bad\n")
    (package / "store" / "bad.py").write_text(source)
    problems = upward_imports(package)
    assert len(problems) == 1, (where, problems)
    assert problems[0].startswith("flowkit/store/bad.py:"), problems
    assert "(layer " in problems[0] and "is above 'store')" in problems[0]


def test_a_downward_import_in_a_synthetic_module_passes(tmp_path: Path) -> None:
    package = tmp_path / "flowkit"
    (package / "cli").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "cli" / "__init__.py").write_text(
        "from flowkit.store import open_store\nfrom flowkit.errors import FlowkitError\n"
        "def f():\n    from flowkit.runtime.api import run\n"
    )
    assert upward_imports(package) == []


def test_every_package_has_a_layer() -> None:
    for path in ROOT.iterdir():
        if path.name.startswith(("_", ".")) and path.name not in ("__init__.py", "__main__.py"):
            continue
        if path.is_dir() or path.suffix == ".py":
            layer_of(f"flowkit.{path.stem}")
