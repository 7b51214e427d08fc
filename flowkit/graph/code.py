"""A step's code as reuse sees it: normalized source, so comments, docstrings and formatting
never count, plus the module-level helper functions the step calls, transitively."""

from __future__ import annotations

import ast
import copy
import hashlib
from collections.abc import Collection
from types import FunctionType

from flowkit.graph.source import SourceUnavailable, function_node, global_names, parse_python


def normalized(node: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    """The function's code as text, without decorators, docstring, comments or layout."""
    clean = copy.deepcopy(node)
    clean.decorator_list = []
    body = clean.body
    if (
        body
        and isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
    ):
        clean.body = body[1:] or [ast.Pass()]
    return ast.unparse(clean)


def helpers(func: FunctionType) -> dict[str, str]:
    """Normalized source of every function of ``func``'s module that it calls, directly or
    through other such helpers (a notebook's cells are all one module, ``__main__``); library
    code is not hashed, and a helper whose source cannot be read is left out."""
    found: dict[str, str] = {}
    todo = [func]
    while todo:
        current = todo.pop()
        for name in global_names(current.__code__):
            value = current.__globals__.get(name)
            if (
                not isinstance(value, FunctionType)
                or name in found
                or value.__module__ != func.__module__
            ):
                continue
            try:
                found[name] = normalized(function_node(value))
            except (SourceUnavailable, SyntaxError):
                continue
            todo.append(value)
    return found


def code_digest(step_code: str, helper_code: dict[str, str]) -> str:
    """One digest of a step's code and its helpers'."""
    h = hashlib.sha256(step_code.encode())
    for name in sorted(helper_code):
        h.update(b"\0" + name.encode() + b"\0" + helper_code[name].encode())
    return h.hexdigest()


def parameters_read(
    node: ast.FunctionDef | ast.AsyncFunctionDef, parameters: Collection[str]
) -> tuple[str, ...]:
    """The parameters the step reads as ``self.<name>``, in order of first use."""
    args = node.args.posonlyargs + node.args.args
    self_name = args[0].arg if args else "self"
    seen: dict[str, None] = {}
    for sub in ast.walk(node):
        if (
            isinstance(sub, ast.Attribute)
            and isinstance(sub.value, ast.Name)
            and sub.value.id == self_name
            and sub.attr in parameters
        ):
            seen[sub.attr] = None
    return tuple(seen)


def first_difference(old: str, new: str) -> int | None:
    """Index of the first statement of ``new`` (in :func:`statements` order) that differs
    from ``old``; None when the two normalized sources are the same code."""
    if old == new:
        return None
    try:
        old_fn, new_fn = parse_python(old).body[0], parse_python(new).body[0]
    except (SyntaxError, IndexError):
        return 0
    old_stmts = statements(old_fn)
    for i, stmt in enumerate(statements(new_fn)):
        if i >= len(old_stmts) or ast.dump(old_stmts[i]) != ast.dump(stmt):
            return i
    return max(len(statements(new_fn)) - 1, 0)


def statements(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.stmt) -> list[ast.stmt]:
    """The statements inside a function, nested ones too, in source order, docstring left out."""
    body = node.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) else []
    skip = (
        body[0]
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
        else None
    )
    found = [
        c for c in ast.walk(node) if isinstance(c, ast.stmt) and c is not node and c is not skip
    ]
    return sorted(found, key=lambda s: (s.lineno, s.col_offset))
