"""The exception tree drawn in ``flowkit.errors``'s docstring is the real one: every
``FlowkitError`` subclass anywhere in flowkit is in it, under its real base, in its module."""

from __future__ import annotations

import gc
import importlib
import pkgutil
import re

import flowkit
from flowkit import errors
from flowkit.errors import FlowkitError
from flowkit.store.errors import StoreError

#: A row of the drawing: ``│   ├── Name   what it is [module]``; the root has no branch.
_ROW = re.compile(
    r"^(?P<indent>(?:│   |    )*)(?P<branch>[├└]── )?(?P<name>[A-Z]\w*)\s.*?"
    r"(?:\[(?P<module>[\w.]+)\])?$"
)

Tree = dict[str, tuple[str | None, str]]


def _documented_tree() -> Tree:
    """Each class the docstring draws: name -> (its parent in the drawing, its module)."""
    assert errors.__doc__ is not None
    block = errors.__doc__.split("::\n\n", 1)[1].split("\n\n", 1)[0]
    parents: list[str] = []
    tree: Tree = {}
    for line in block.splitlines():
        row = _ROW.match(line.removeprefix("    "))
        assert row, f"not a row of the exception tree: {line!r}"
        depth = len(row["indent"]) // 4 + 1 if row["branch"] else 0
        del parents[depth:]
        module = "flowkit." + (row["module"] or "errors")
        tree[row["name"]] = (parents[-1] if parents else None, module)
        parents.append(row["name"])
    return tree


def _every_flowkit_error() -> list[type[FlowkitError]]:
    """``FlowkitError`` and all its subclasses, after importing every flowkit module."""
    for module in pkgutil.walk_packages(flowkit.__path__, "flowkit."):
        if not module.name.endswith("__main__"):  # importing __main__ runs the command line
            importlib.import_module(module.name)
    found: list[type[FlowkitError]] = []
    todo: list[type[FlowkitError]] = [FlowkitError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo += cls.__subclasses__()
    return [c for c in found if c.__module__.startswith("flowkit.")]


def _disagreements(tree: Tree, classes: list[type[FlowkitError]]) -> list[str]:
    out = []
    for cls in classes:
        where = f"{cls.__module__}.{cls.__qualname__}"
        if cls.__name__ not in tree:
            out.append(f"{where} is missing")
            continue
        parent, module = tree[cls.__name__]
        bases = [b.__name__ for b in cls.__bases__ if issubclass(b, FlowkitError)] or [None]
        if parent not in bases:
            out.append(f"{where} is drawn under {parent}, but derives from {bases[0]}")
        if cls.__module__ != module:
            out.append(f"{where} is marked as defined in {module}")
    return out


def test_every_flowkit_error_is_in_the_documented_tree_under_its_base() -> None:
    classes = _every_flowkit_error()
    assert len(classes) > 20
    wrong = _disagreements(_documented_tree(), classes)
    assert not wrong, "fix the exception tree in flowkit/errors.py: " + "; ".join(wrong)


def test_the_tree_draws_no_class_that_does_not_exist() -> None:
    real = {c.__name__ for c in _every_flowkit_error()}
    assert set(_documented_tree()) - real == set()


def test_a_new_error_left_out_of_the_tree_or_drawn_wrongly_is_named() -> None:
    unlisted = type("BackendGone", (FlowkitError,), {"__module__": "flowkit.fake"})
    moved = type("StoreFullError", (FlowkitError,), {"__module__": "flowkit.fake"})
    try:
        assert _disagreements(_documented_tree(), [unlisted, moved, StoreError]) == [
            "flowkit.fake.BackendGone is missing",
            "flowkit.fake.StoreFullError is drawn under StoreError, but derives from FlowkitError",
            "flowkit.fake.StoreFullError is marked as defined in flowkit.store.errors",
        ]
    finally:
        del unlisted, moved
        gc.collect()  # so that no other test finds them among FlowkitError's subclasses
