"""Config expressions: ``config_expr("cfg.a.b")`` and ``cfg.a.b`` written where the run's
configs are not known yet (decorator arguments, parameter defaults), evaluated once they are.

An expression is data until then: :func:`evaluate` gives its value under a run's configs
(config name -> value), and :func:`resolve` does so for every expression inside a decorator's
arguments, a list or a dict, including ``**cfg`` unpacked into keyword arguments.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from typing import Any

#: The one key ``**expr`` yields: the expression itself stands for every key of its value.
UNPACK_PREFIX = "_flowkit_unpacked_"


class ConfigExprError(Exception):
    """An expression could not be evaluated; the message says why (the caller says where)."""


class DelayedExpr:
    """A config expression: Python source (``config_expr``) or a config name followed by
    attribute and item accesses (``cfg.a["b"]``), each access a new expression."""

    __slots__ = ("_globals", "_path", "_source")
    _source: str
    _path: tuple[str | DelayedExpr, ...]
    _globals: Mapping[str, Any] | None

    def __init__(
        self,
        source: str,
        path: tuple[str | DelayedExpr, ...] = (),
        namespace: Mapping[str, Any] | None = None,
    ) -> None:
        object.__setattr__(self, "_source", source)
        object.__setattr__(self, "_path", path)
        object.__setattr__(self, "_globals", namespace)

    def _then(self, key: str | DelayedExpr) -> DelayedExpr:
        return DelayedExpr(self._source, (*self._path, key), self._globals)

    def __getattr__(self, name: str) -> DelayedExpr:
        if name.startswith("__"):  # copy, pickle and friends probe for dunders
            raise AttributeError(name)
        return self._then(name)

    def __getitem__(self, key: Any) -> Any:
        if key == self._unpack_key():
            return self
        if not isinstance(key, str | DelayedExpr):
            raise TypeError(f"a config expression is indexed by a string, not {key!r}")
        return self._then(key)

    def __setattr__(self, name: str, value: Any) -> None:
        raise TypeError("a config expression is read-only")

    def __reduce__(self) -> tuple[Any, ...]:
        # a notebook flow's class is pickled with its decorators: keep of the caller's
        # globals only the names the expression reads, not the whole notebook
        return (DelayedExpr, (self._source, self._path, _names_read(self._source, self._globals)))

    # ``**expr`` in a call: one placeholder key, expanded once the value is known
    def keys(self) -> list[str]:
        return [self._unpack_key()]

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def _unpack_key(self) -> str:
        return f"{UNPACK_PREFIX}{id(self)}"

    @property
    def text(self) -> str:
        """The expression as written, for messages."""
        out = self._source
        for key in self._path:
            out += f".{key}" if isinstance(key, str) and key.isidentifier() else f"[{key!r}]"
        return out

    def __repr__(self) -> str:
        return f"config_expr({self.text!r})"


def _names_read(source: str, namespace: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not namespace:
        return None
    try:
        names = compile(source, "<config_expr>", "eval").co_names
    except SyntaxError:
        return None
    return {name: namespace[name] for name in names if name in namespace}


def config_expr(expr: str) -> DelayedExpr:
    """An expression over the flow's configs, evaluated when a run starts:
    ``@resources(cpu=config_expr("cfg.cpu"))``, ``config_expr("cfg.name.lower()")``.

    Configs are names in it (by ``Config`` name, and by the attribute that holds them), and so
    are the globals of the module that calls ``config_expr``. A plain ``cfg.a.b`` written in a
    flow's class body is the same thing, for the simple case.
    """
    # sys._getframe, as inspect.currentframe reads it: importing inspect (ast, dis) here was
    # ~7 ms of every process that imports flowkit's decorators, the warm worker's included
    caller = sys._getframe(1) if hasattr(sys, "_getframe") else None
    return DelayedExpr(expr, (), caller.f_globals if caller is not None else None)


def is_delayed(value: Any) -> bool:
    """Whether ``value`` is, or holds (in a list, tuple or dict), a config expression."""
    if isinstance(value, DelayedExpr):
        return True
    if isinstance(value, list | tuple | set | frozenset):
        return any(is_delayed(v) for v in value)
    if isinstance(value, dict):
        return any(is_delayed(k) or is_delayed(v) for k, v in value.items())
    return False


def evaluate(expr: DelayedExpr, configs: Mapping[str, Any]) -> Any:
    """The value of ``expr`` given the run's configs; :class:`ConfigExprError` says why not."""
    source, path = expr._source, expr._path
    if source in configs:
        value = configs[source]
    else:
        try:
            value = eval(source, dict(expr._globals or {}), dict(configs))
        except Exception as exc:  # the user's expression: any error is theirs to read
            raise ConfigExprError(f"{type(exc).__name__}: {exc}") from None
    walked = source
    for key in path:
        name = evaluate(key, configs) if isinstance(key, DelayedExpr) else key
        value = _step_into(value, name, walked)
        walked += f".{name}" if isinstance(name, str) and name.isidentifier() else f"[{name!r}]"
    return value


def _step_into(value: Any, key: Any, where: str) -> Any:
    if isinstance(value, Mapping):
        if key not in value:
            keys = ", ".join(repr(k) for k in value) or "none"
            raise ConfigExprError(f"{where} has no key {key!r} (its keys: {keys})")
        return value[key]
    try:
        return getattr(value, str(key))
    except AttributeError:
        raise ConfigExprError(
            f"{where} is {value!r} ({type(value).__name__}), which has no {key!r}"
        ) from None


def resolve(value: Any, configs: Mapping[str, Any]) -> Any:
    """``value`` with every config expression in it evaluated (mappings as plain dicts);
    ``{"_flowkit_unpacked_<id>": expr}`` (from ``**expr``) becomes the keys of its value."""
    if isinstance(value, DelayedExpr):
        return plain(evaluate(value, configs))
    if isinstance(value, dict):
        out: dict[Any, Any] = {}
        for key, item in value.items():
            if isinstance(key, str) and key.startswith(UNPACK_PREFIX):
                unpacked = resolve(item, configs)
                if not isinstance(unpacked, Mapping):
                    raise ConfigExprError(
                        f"**{item.text} is {unpacked!r}, not a mapping of keyword arguments"
                    )
                out.update(unpacked)
            else:
                out[resolve(key, configs)] = resolve(item, configs)
        return out
    if isinstance(value, list | tuple | set | frozenset):
        return type(value)(resolve(v, configs) for v in value)
    return value


def plain(value: Any) -> Any:
    """Config values (read-only mappings) as plain dicts and lists, for decorators to keep."""
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(plain(v) for v in value)
    return value
