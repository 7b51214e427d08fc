"""A step's code as reuse sees it: normalized source, so comments, docstrings and formatting
never count, plus the module-level helper functions the step calls, transitively, the
methods of the flow it calls (``self.helper()``), and the code and arguments of its user step
decorators (``@user_step_decorator``, :class:`UserStepDecorator`, ``@environment``), and the
values of the module constants and class attributes they read when those are plain data
(:func:`flowkit.graph.stable.plain_text`)."""

from __future__ import annotations

import ast
import copy
import dis
import functools
import hashlib
import inspect
import json
import marshal
import os
from collections.abc import Collection, Mapping, Sequence
from types import CodeType, FunctionType
from typing import Any

from flowkit.authoring.user_decorators import UserStepDecorator
from flowkit.graph.source import SourceUnavailable, function_node, global_names, parse_python
from flowkit.graph.stable import Unstable, plain_text, stable_text


@functools.lru_cache(maxsize=1024)
def normalized(node: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    """The function's code as text, without decorators, docstring, comments or layout.
    Kept per node: syntax trees are cached by their file's content and never changed, and a
    graph's steps call the same helpers."""
    clean = copy.copy(node)  # unparsing reads the children: only these two fields differ
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
    code is not hashed, and a helper whose source cannot be read is left out. The plain-data
    module constants each reads (``SCALE``, keyed ``= SCALE``) and attributes of the module's
    classes (``Limits.X``, keyed ``= Limits.X``) count with their values."""
    found: dict[str, str] = {}
    todo = [func]
    while todo:
        current = todo.pop()
        found.update(_constants(current, func.__module__))
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


def _constants(func: FunctionType, module: str) -> dict[str, str]:
    """The plain-data globals ``func`` reads, and the plain-data attributes of ``module``'s
    classes it reads as ``ClassName.X``, as text (dunder names such as ``__file__`` differ
    between machines and are left out)."""
    found: dict[str, str] = {}
    names = func.__globals__
    for name in global_names(func.__code__):
        if name in names and not name.startswith("__"):
            text = plain_text(names[name])
            if text is not None:
                found[f"= {name}"] = text
    for name, attr in _global_attributes(func.__code__):
        owner = names.get(name)
        if isinstance(owner, type) and owner.__module__ == module:
            text = _attribute_text(owner, attr)
            if text is not None:
                found[f"= {name}.{attr}"] = text
    return found


@functools.lru_cache(maxsize=1024)
def _global_attributes(code: CodeType) -> tuple[tuple[str, str], ...]:
    """``(name, attr)`` for each ``name.attr`` read where ``name`` is a global, nested code
    too; kept per code object, as :func:`global_names` is."""
    found = []
    previous = None
    for instruction in dis.get_instructions(code):
        if (
            previous is not None
            and previous.opname in ("LOAD_GLOBAL", "LOAD_NAME")
            and instruction.opname in ("LOAD_ATTR", "LOAD_METHOD")
        ):
            found.append((previous.argval, instruction.argval))
        previous = instruction
    for const in code.co_consts:
        if isinstance(const, CodeType):
            found += _global_attributes(const)
    return tuple(found)


def _attribute_text(owner: type, attr: str) -> str | None:
    """The class attribute ``attr`` of ``owner`` (or of one of its own bases, not flowkit's)
    as text, if it is plain data."""
    for klass in owner.__mro__:
        if _is_library(klass):
            return None
        if attr in vars(klass):
            return plain_text(inspect.getattr_static(klass, attr))
    return None


def _is_library(klass: type) -> bool:
    return klass.__module__.split(".")[0] in ("flowkit", "builtins")


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
    """The methods a flow class defines (or inherits from the user's own classes), not its
    steps nor flowkit's own: plain ones, static and class methods, and the getters of its
    properties and ``functools.cached_property`` attributes: a step may call them as
    ``self.name(...)`` or read ``self.name``, and they may read any parameter."""
    found: dict[str, FunctionType] = {}
    for klass in reversed(flow_cls.__mro__):
        if _is_library(klass):
            continue
        for name, value in vars(klass).items():
            function = _method_function(value)
            if function is not None and name not in steps:
                found[name] = function
    return found


def _method_function(value: Any) -> FunctionType | None:
    """The function a class attribute runs when a step uses it, if it is a method."""
    if isinstance(value, property):
        value = value.fget
    elif isinstance(value, staticmethod | classmethod):
        value = value.__func__
    elif isinstance(value, functools.cached_property):
        value = value.func
    return value if isinstance(value, FunctionType) else None


def methods_code(
    node: ast.FunctionDef | ast.AsyncFunctionDef,
    methods: Mapping[str, FunctionType],
    flow_cls: type | None = None,
) -> dict[str, str]:
    """The code of each flow method ``node`` calls as ``self.name``, transitively (keyed
    ``self.name``), with the helpers each calls; and the value of each plain-data class
    attribute of ``flow_cls`` they read as ``self.NAME`` (keyed ``= self.NAME``)."""
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
            ):
                continue
            if sub.attr not in methods:
                text = _attribute_text(flow_cls, sub.attr) if flow_cls is not None else None
                if text is not None:
                    found[f"= self.{sub.attr}"] = text
                continue
            if f"self.{sub.attr}" in found:
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


def decorators_code(wrappers: Sequence[UserStepDecorator]) -> tuple[dict[str, str], str]:
    """The code of a step's user step decorators, outermost first, keyed ``@N name``: each
    one's arguments (:func:`key_text`), and the normalized source of what it runs
    around the step (the generator of a ``@user_step_decorator``; the methods a
    :class:`UserStepDecorator` subclass defines, ``pre_step``, ``post_step``, ``init`` and the
    rest) with its helpers. Second, why the step always runs if an argument has no stable
    form ("" when all have one)."""
    found: dict[str, str] = {}
    unstable = ""
    for index, wrapper in enumerate(wrappers):
        args, kwargs = wrapper.get_args_kwargs()
        text, why = key_text([list(args), dict(kwargs)])
        if why and not unstable:
            unstable = unkeyed_reason(wrapper.decorator_name.rsplit(".", 1)[-1], why)
        parts = [text]
        for func in _decorator_functions(type(wrapper)):
            parts.append(function_text(func))
        found[f"@{index} {wrapper.decorator_name}"] = "\n".join(parts)
    return found, unstable


def function_text(func: FunctionType) -> str:
    """A function as a cache key sees it: its normalized source (its compiled code when the
    source cannot be read), then its helpers'."""
    try:
        parts = [normalized(function_node(func))]
    except (SourceUnavailable, SyntaxError):
        parts = [_compiled(func)]
    parts += [f"{name}: {code}" for name, code in sorted(helpers(func).items())]
    return "\n".join(parts)


def unkeyed_reason(decorator: str, what: str) -> str:
    """Why a step always runs: an argument of its ``decorator`` holds ``what`` (from
    :func:`key_text`), which has no stable form."""
    return (
        f"an argument of @{decorator} holds {what}, which has no stable form for a cache "
        "key, so the step always runs"
    )


def key_text(arguments: Any) -> tuple[str, str]:
    """A decorator's arguments as stable text, and "": JSON when they are JSON data (as they
    always were), else :func:`flowkit.graph.stable.stable_text` (functions as
    :func:`function_text`). When one has no stable form: text no other run's matches, and
    what that argument is."""
    try:
        return json.dumps(arguments, sort_keys=True), ""
    except (TypeError, ValueError):  # sets, functions, objects
        pass
    try:
        return stable_text(arguments, function_text), ""
    except Unstable as exc:
        return f"unstable {os.urandom(16).hex()}", str(exc)


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
