"""One concept, one name: no two flowkit modules define a class or a type alias of the same
name, so a name found in one module never means something else in another."""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

import flowkit

PACKAGE = Path(flowkit.__file__).parent
#: CamelCase, as classes and type aliases are named (constants are UPPER_CASE).
_TYPE_NAME = re.compile(r"[A-Z][a-z0-9]+[A-Za-z0-9]*")


def _defined_types(source: str) -> set[str]:
    """The classes and type aliases a module defines at its top level (not what it imports)."""
    names: set[str] = set()
    for node in ast.parse(source).body:
        if isinstance(node, ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return {n for n in names if _TYPE_NAME.fullmatch(n)}


def _homes(sources: dict[str, str]) -> dict[str, list[str]]:
    where: dict[str, list[str]] = defaultdict(list)
    for module, source in sorted(sources.items()):
        for name in _defined_types(source):
            where[name].append(module)
    return {name: modules for name, modules in where.items() if len(modules) > 1}


def test_no_type_name_is_defined_twice() -> None:
    sources = {
        str(path.relative_to(PACKAGE.parent)): path.read_text() for path in PACKAGE.rglob("*.py")
    }
    assert len(sources) > 50
    assert _homes(sources) == {}


def test_a_name_defined_in_two_modules_is_found() -> None:
    sources = {
        "flowkit/store/logs.py": "class LogLine:\n    pass\n",
        "flowkit/runtime/events.py": (
            "from typing import Literal\nfrom x import Other\n"
            "LogLine = int\nTaskStatus: object = Literal['a']\nMAX = 3\n"
        ),
        "flowkit/store/records.py": "TaskStatus = Literal['b']\n",
    }
    assert _homes(sources) == {
        "LogLine": ["flowkit/runtime/events.py", "flowkit/store/logs.py"],
        "TaskStatus": ["flowkit/runtime/events.py", "flowkit/store/records.py"],
    }
