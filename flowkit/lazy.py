"""A package's public names, imported on first use rather than when the package is imported.

``import flowkit`` (and every process that only needs one corner of it: a fork server, a
client script, a task) would otherwise import every layer. A package lists each export with
the module that defines it; the same names are imported for real under ``TYPE_CHECKING`` so
type checkers and IDEs see them, and ``tests/test_lazy_exports.py`` keeps the two lists equal.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(
    package: str, exports: Mapping[str, tuple[str, ...]]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package``; ``exports`` maps each module to the
    names the package takes from it, as its ``from module import names`` lines would.

    A name is imported on its first lookup and then stored in the package's namespace, so
    later lookups are plain attribute reads.
    """
    home = {name: module for module, names in exports.items() for name in names}
    # A name that is also a submodule's (flowkit.client's ``namespace``) is bound now: the
    # first import of the submodule, from anywhere, would otherwise bind the module to it
    # and shadow this __getattr__.
    for name, module in home.items():
        if module == f"{package}.{name}":
            setattr(sys.modules[package], name, getattr(importlib.import_module(module), name))

    def __getattr__(name: str) -> Any:
        module = home.get(name)
        if module is None:
            return _submodule(package, name)
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[package]), *home})

    return __getattr__, __dir__


def _submodule(package: str, name: str) -> Any:
    """``package.name`` as an attribute when it is a submodule (``import flowkit`` then
    ``flowkit.client.Flow`` worked while the package imported everything), else the
    AttributeError Python gives."""
    missing = AttributeError(f"module {package!r} has no attribute {name!r}")
    if name.startswith("_"):
        raise missing
    try:
        return importlib.import_module(f"{package}.{name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"{package}.{name}":
            raise
    raise missing
