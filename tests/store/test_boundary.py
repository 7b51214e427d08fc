"""Nothing above the store reaches past its facade to the byte backend or the key layout.

Outside ``flowkit/store/`` (and ``flowkit/testing/``, which tests backends themselves), code
goes through :class:`~flowkit.store.Store` and what ``flowkit.store`` exports: no
``.backend`` attribute, no import of the store's internals.
"""

from __future__ import annotations

import ast

import pytest

from tests.conftest import ROOT

PACKAGE = ROOT / "flowkit"
#: Where the store's own code and the backend test kit live: they may use the internals.
INSIDE = (PACKAGE / "store", PACKAGE / "testing")
#: Modules of the store that only the store itself may import.
INTERNALS = frozenset(
    f"flowkit.store.{name}" for name in ("backend", "blobs", "keys", "layout", "local", "memory")
)


def reaches_past(source: str, filename: str) -> list[str]:
    """``file:line: what`` for each place ``source`` goes around the store's facade."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Attribute) and node.attr == "backend":
            found.append(f"{filename}:{node.lineno}: reads .backend")
        elif isinstance(node, ast.Import):
            found += [
                f"{filename}:{node.lineno}: imports {alias.name}"
                for alias in node.names
                if alias.name in INTERNALS
            ]
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            modules = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            found += [
                f"{filename}:{node.lineno}: imports {module}"
                for module in modules
                if module in INTERNALS
            ]
    return found


def test_nothing_above_the_store_reaches_past_it() -> None:
    found = [
        problem
        for path in sorted(PACKAGE.rglob("*.py"))
        if not any(path.is_relative_to(inside) for inside in INSIDE)
        for problem in reaches_past(path.read_text(), str(path.relative_to(ROOT)))
    ]
    assert found == [], "use a Store method (or add one) instead:\n" + "\n".join(found)


@pytest.mark.parametrize(
    ("source", "what"),
    [
        ("writer = LogWriter(store.backend, prefix, 'stdout')", "reads .backend"),
        ("from flowkit.store.layout import log_prefix", "imports flowkit.store.layout"),
        ("from flowkit.store import layout", "imports flowkit.store.layout"),
        ("import flowkit.store.local", "imports flowkit.store.local"),
        ("def f():\n    from flowkit.store.keys import is_name", "imports flowkit.store.keys"),
    ],
)
def test_the_check_names_the_file_and_line(source: str, what: str) -> None:
    lines = source.count("\n") + 1
    assert reaches_past(source, "flowkit/x.py") == [f"flowkit/x.py:{lines}: {what}"]


def test_what_the_store_exports_passes() -> None:
    source = "from flowkit.store import Store, is_name, open_store\nstore.records.get_run('F', 'r')"
    assert reaches_past(source, "flowkit/x.py") == []
