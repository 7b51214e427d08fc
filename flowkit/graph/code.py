"""A step's code as reuse sees it: normalized source, so comments, docstrings and formatting
never count, plus the module-level helper functions the step calls, transitively, the
methods of the flow it calls (``self.helper()``), and the code and arguments of its user step
decorators (``@user_step_decorator``, :class:`UserStepDecorator`, ``@environment``)."""

from __future__ import annotations

import ast
import copy
import hashlib
import json
import marshal
from collections.abc import Collection, Mapping, Sequence
from types import FunctionType
from typing import Any

from flowkit.authoring.user_decorators import UserStepDecorator
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
    node: ast.FunctionDef | ast.AsyncFunctionDef,
    parameters: Collection[str],
    methods: Collection[str] = (),
) -> tuple[str, ...]:
    """The parameters (configs too) the step reads as ``self.<name>``, in order of first use.

    Every one of them, sorted, when which it reads cannot be seen in its source: ``self`` is
    passed to a call (``helper(self)``, ``getattr(self, name)``, ``vars(self)``), aliased,
    read through a dunder (``self.__dict__``), or one of the flow's own ``methods`` is used
    (``self.helper()`` may read any). A join counts ``inp.<parameter>`` too. Counting too many only makes a task run again when a
    parameter it may read changes; counting too few would reuse a stale result."""
    self_name = _self_name(node)
    join = len(node.args.posonlyargs + node.args.args) > 1
    seen: dict[str, None] = {}
    static: set[int] = set()  # ids of the ``self`` names read as ``self.<parameter>`` etc.
    for sub in ast.walk(node):
        if join and isinstance(sub, ast.Attribute) and sub.attr in parameters:
            seen[sub.attr] = None  # a join's inputs read the run's parameters (inp.alpha)
        if (
            isinstance(sub, ast.Attribute)
            and isinstance(sub.value, ast.Name)
            and sub.value.id == self_name
            and not sub.attr.startswith("__")
            and sub.attr not in methods
        ):
            static.add(id(sub.value))
            if sub.attr in parameters:
                seen[sub.attr] = None
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and sub.id == self_name and id(sub) not in static:
            return tuple(sorted(parameters))
    return tuple(seen)


def _self_name(node: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    args = node.args.posonlyargs + node.args.args
    return args[0].arg if args else "self"


def flow_methods(flow_cls: type, steps: Collection[str]) -> dict[str, FunctionType]:
    """The plain methods a flow class defines (or inherits from the user's own classes), not
    its steps nor flowkit's own, and its properties' getters: a step may call them as
    ``self.name(...)`` or read ``self.name``, and they may read any parameter."""
    found: dict[str, FunctionType] = {}
    for klass in reversed(flow_cls.__mro__):
        if klass.__module__.split(".")[0] in ("flowkit", "builtins"):
            continue
        for name, value in vars(klass).items():
            getter = value.fget if isinstance(value, property) else value
            if isinstance(getter, FunctionType) and name not in steps:
                found[name] = getter
    return found


def methods_code(
    node: ast.FunctionDef | ast.AsyncFunctionDef, methods: Mapping[str, FunctionType]
) -> dict[str, str]:
    """The code of each flow method ``node`` calls as ``self.name``, transitively (keyed
    ``self.name``), with the helpers each calls."""
    found: dict[str, str] = {}
    todo = [node]
    while todo:
        current = todo.pop()
        self_name = _self_name(current)
        for sub in ast.walk(current):
            if not (
                isinstance(sub, ast.Attribute)
                and isinstance(sub.value, ast.Name)
                and sub.value.id == self_name
                and sub.attr in methods
                and f"self.{sub.attr}" not in found
            ):
                continue
            func = methods[sub.attr]
            try:
                method_node = function_node(func)
            except (SourceUnavailable, SyntaxError):
                found[f"self.{sub.attr}"] = _compiled(func)
                continue
            found[f"self.{sub.attr}"] = normalized(method_node)
            found.update(helpers(func))
            todo.append(method_node)
    return found


def decorators_code(wrappers: Sequence[UserStepDecorator]) -> dict[str, str]:
    """The code of a step's user step decorators, outermost first, keyed ``@N name``: each
    one's arguments, and the normalized source of what it runs around the step (the
    generator of a ``@user_step_decorator``; the methods a :class:`UserStepDecorator`
    subclass defines, ``pre_step``, ``post_step``, ``init`` and the rest) with its helpers."""
    found: dict[str, str] = {}
    for index, wrapper in enumerate(wrappers):
        args, kwargs = wrapper.get_args_kwargs()
        parts = [_arguments_text(args, kwargs)]
        for func in _decorator_functions(type(wrapper)):
            try:
                parts.append(normalized(function_node(func)))
            except (SourceUnavailable, SyntaxError):
                parts.append(_compiled(func))
            parts += [f"{name}: {code}" for name, code in sorted(helpers(func).items())]
        found[f"@{index} {wrapper.decorator_name}"] = "\n".join(parts)
    return found


def _decorator_functions(cls: type) -> list[FunctionType]:
    generator = vars(cls).get("_generator")
    if isinstance(generator, staticmethod) and isinstance(generator.__func__, FunctionType):
        return [generator.__func__]
    found: list[FunctionType] = []
    for klass in cls.__mro__:
        if klass is UserStepDecorator:
            break
        found += [f for _, f in sorted(vars(klass).items()) if isinstance(f, FunctionType)]
    return found


def _arguments_text(args: Sequence[Any], kwargs: Mapping[str, Any]) -> str:
    """A decorator's arguments as stable text (``repr`` for what JSON does not know)."""
    return json.dumps([list(args), dict(kwargs)], sort_keys=True, default=repr)


def _compiled(func: FunctionType) -> str:
    """What stands for a function whose source cannot be read: its compiled code."""
    return marshal.dumps(func.__code__).hex()


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
