"""Values as stable text for a cache key: the same value gives the same text in every process
and on every run, never a memory address.

Plain data (``None``, booleans, numbers, strings, bytes, and tuples, lists, dicts, sets of
those, the unordered ones sorted) is what a step's module constants and class attributes count
as (:func:`plain_text`). A decorator's arguments may also be functions (their code, through the
caller's ``function_text``, with their defaults and the values they close over), classes and modules (their names), ``functools.partial`` objects,
enum members, and other objects: their type's qualified name and their attributes (``vars()``),
or what pickle would store of them (``__reduce_ex__``) when they have no ``__dict__``, and the
code of their class's methods where the user wrote it
(:func:`stable_text`). What has none of these forms raises :class:`Unstable`.
"""

from __future__ import annotations

import enum
import functools
import pickle
import sys
import sysconfig
from collections.abc import Callable
from types import BuiltinFunctionType, CellType, FunctionType, MethodType, ModuleType
from typing import Any

_SCALARS = (type(None), bool, int, float, complex, str, bytes)
_CONTAINERS = (tuple, list, dict, set, frozenset)


class Unstable(Exception):
    """A value with no stable text; the message names what it is."""


def plain_text(value: Any) -> str | None:
    """``value`` as stable text if it is plain data, else None."""
    try:
        return _render(value, None, set())
    except Unstable:
        return None


def stable_text(value: Any, function_text: Callable[[FunctionType], str]) -> str:
    """``value`` as stable text, functions as ``function_text`` gives them; :class:`Unstable`
    when some part of it has no stable form."""
    return _render(value, function_text, set())


def _name(obj: Any) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}"


def _render(value: Any, functions: Callable[[FunctionType], str] | None, seen: set[int]) -> str:
    kind = type(value)
    if kind in _SCALARS:
        return f"{kind.__name__}:{value!r}"
    if id(value) in seen:
        raise Unstable(f"a {kind.__qualname__} that contains itself")
    seen = seen | {id(value)}
    if kind in _CONTAINERS:
        if kind is dict:
            items = sorted(
                f"{_render(k, functions, seen)}: {_render(v, functions, seen)}"
                for k, v in value.items()
            )
        else:
            items = [_render(item, functions, seen) for item in value]
            if kind in (set, frozenset):
                items.sort()
        return f"{kind.__name__}[{', '.join(items)}]"
    if functions is None:
        raise Unstable(f"a {kind.__qualname__}")
    if isinstance(value, FunctionType):
        cells = tuple(_cell(c) for c in value.__closure__ or ())
        bound = _render((value.__defaults__, value.__kwdefaults__, cells), functions, seen)
        return f"function {_name(value)} {bound}\n{functions(value)}"
    if isinstance(value, MethodType):
        owner = _render(value.__self__, functions, seen)
        return f"method of {owner}\n{_render(value.__func__, functions, seen)}"
    if isinstance(value, type | BuiltinFunctionType):
        return f"{kind.__name__} {_name(value)}"
    if isinstance(value, ModuleType):
        return f"module {value.__name__}"
    if isinstance(value, enum.Enum):
        return f"{_name(kind)}.{value.name}"
    if isinstance(value, functools.partial):
        parts = (value.func, value.args, value.keywords)
        return f"partial{_render(parts, functions, seen)}"
    if hasattr(value, "__dict__") and not hasattr(kind, "__slots__"):
        state = _render(dict(vars(value)), functions, seen)
    else:
        state = _render(_reduced(value), functions, seen)
    return f"{_name(kind)}{state}{_class_code(kind, functions)}"


def _class_code(kind: type, functions: Callable[[FunctionType], str]) -> str:
    """The code of the methods of ``kind`` and its bases the user wrote (not installed
    libraries' nor the standard library's, whose code changes only with their version)."""
    parts = []
    for klass in kind.__mro__:
        module = sys.modules.get(klass.__module__)
        file = getattr(module, "__file__", None)
        if module is None or module.__name__.split(".")[0] in ("builtins", "flowkit"):
            continue
        if file is not None and file.startswith(_INSTALLED):
            continue
        for name, attr in sorted(vars(klass).items()):
            if isinstance(attr, staticmethod | classmethod):
                attr = attr.__func__
            if isinstance(attr, FunctionType):
                parts.append(f"\n{klass.__qualname__}.{name}: {functions(attr)}")
    return "".join(parts)


#: Where installed libraries and the standard library live.
_INSTALLED = tuple(
    {sysconfig.get_path(name) for name in ("stdlib", "platstdlib", "purelib", "platlib")}
)


def _cell(cell: CellType) -> Any:
    try:
        return cell.cell_contents
    except ValueError:  # not yet set: the function is defined later in its scope
        return None


def _reduced(value: Any) -> tuple[Any, ...]:
    """What pickle would store of ``value``: how to make it, from what, and its state."""
    try:
        reduced = value.__reduce_ex__(4)
    except (TypeError, pickle.PickleError) as exc:  # what cannot be pickled
        raise Unstable(f"a {type(value).__qualname__} ({exc})") from None
    if not isinstance(reduced, tuple):
        raise Unstable(f"a {type(value).__qualname__}")
    parts = list(reduced[:5])
    for index in (3, 4):  # iterators of list items and dict items
        if index < len(parts) and parts[index] is not None:
            parts[index] = list(parts[index])
    return tuple(parts)
