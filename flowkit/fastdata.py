"""Data classes without the cost of :mod:`dataclasses` at import time.

``@dataclass`` here makes what the standard library's makes for the options flowkit uses
(``frozen``, ``slots``, ``field(default=, default_factory=, compare=)``, ``__post_init__``,
inheritance): the same ``__init__``, ``__repr__``, ``__eq__``, ``__hash__`` and frozen
``__setattr__``, written by one ``exec`` per class. The standard one costs a process ~10 ms
to import (it imports :mod:`inspect`) and 0.3-0.8 ms per class (an ``exec`` per method);
flowkit defines over a hundred, and every command, worker and client process paid for them.

The classes are still data classes to the standard library: ``dataclasses.fields``,
``replace``, ``asdict`` and ``is_dataclass`` work on them, through a ``__dataclass_fields__``
made (and :mod:`dataclasses` imported) the first time something asks for it. ``fields``,
``replace`` and ``is_dataclass`` here are the same for these classes without importing it;
``asdict`` imports it when called.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, dataclass_transform, overload

T = TypeVar("T")


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


class Field:
    """What ``field(...)`` says of one field; its ``name`` and ``type`` are set by
    ``@dataclass``."""

    __slots__ = ("compare", "default", "default_factory", "name", "type")

    def __init__(self, default: Any, default_factory: Any, compare: bool) -> None:
        self.default = default
        self.default_factory = default_factory
        self.compare = compare
        self.name = ""
        self.type: Any = None


def field(
    *, default: Any = MISSING, default_factory: Callable[[], Any] = MISSING, compare: bool = True
) -> Any:
    """A field's default (or a function making a fresh one for each instance), and whether
    ``==`` and ``hash`` look at it."""
    if default is not MISSING and default_factory is not MISSING:
        raise ValueError("cannot give both default and default_factory")
    return Field(default, default_factory, compare)


@overload
def dataclass(cls: type[T], /) -> type[T]: ...
@overload
def dataclass(*, frozen: bool = False, slots: bool = False) -> Callable[[type[T]], type[T]]: ...
@dataclass_transform(field_specifiers=(field,))
def dataclass(
    cls: type[T] | None = None, /, *, frozen: bool = False, slots: bool = False
) -> type[T] | Callable[[type[T]], type[T]]:
    """``@dataclass``, ``@dataclass(frozen=True)``, ``@dataclass(frozen=True, slots=True)``:
    as the standard library's."""

    def wrap(cls: type[T]) -> type[T]:
        return _process(cls, frozen=frozen, slots=slots)

    return wrap if cls is None else wrap(cls)


def _is_classvar(annotation: Any) -> bool:
    text = annotation if isinstance(annotation, str) else repr(annotation)
    return text.startswith(("ClassVar", "typing.ClassVar", "t.ClassVar"))


def _process(cls: type[T], *, frozen: bool, slots: bool) -> type[T]:
    inherited: dict[str, Field] = {}
    for base in reversed(cls.__mro__[1:]):
        inherited.update({f.name: f for f in base.__dict__.get("__fastdata_fields__", ())})
    own: dict[str, Field] = {}
    # not inspect.get_annotations: importing inspect is the cost this module avoids
    for name, annotation in cls.__dict__.get("__annotations__", {}).items():  # noqa: RUF063
        if _is_classvar(annotation):
            continue
        value = cls.__dict__.get(name, MISSING)
        spec = value if isinstance(value, Field) else Field(value, MISSING, True)
        spec.name, spec.type = name, annotation
        if isinstance(value, Field):  # the class keeps a plain default, as dataclasses does
            if spec.default is MISSING:
                delattr(cls, name)
            else:
                setattr(cls, name, spec.default)
        if spec.default_factory is MISSING and isinstance(spec.default, list | dict | set):
            raise ValueError(
                f"mutable default {type(spec.default)} for field {name} of {cls.__qualname__} "
                "is not allowed: use default_factory"
            )
        inherited.pop(name, None)
        own[name] = spec
    specs = (*inherited.values(), *own.values())
    seen_default = False
    for spec in specs:
        has_default = spec.default is not MISSING or spec.default_factory is not MISSING
        if seen_default and not has_default:
            raise TypeError(f"non-default argument {spec.name!r} follows default argument")
        seen_default = seen_default or has_default
    if slots:
        cls = _with_slots(cls, [s.name for s in own.values()], frozen)
    # as dataclasses: a __hash__ the class wrote itself stays; else frozen ones hash their
    # compared fields and mutable ones are unhashable (their __eq__ compares values)
    own_hash = cls.__dict__.get("__hash__", MISSING)
    explicit_hash = own_hash is not MISSING and not (own_hash is None and "__eq__" in cls.__dict__)
    methods = _methods(cls, specs, frozen)
    for name, method in methods.items():
        if name in ("__setattr__", "__delattr__") and name in cls.__dict__:
            raise TypeError(f"cannot overwrite attribute {name} in class {cls.__name__}")
        if name == "__hash__" or name in cls.__dict__:
            continue  # a method the class defines itself wins
        method.__qualname__ = f"{cls.__qualname__}.{name}"
        setattr(cls, name, method)
    if not explicit_hash:
        cls.__hash__ = methods["__hash__"] if frozen else None  # type: ignore[assignment]
    setattr(cls, "__fastdata_fields__", specs)  # noqa: B010 - not an attribute mypy knows
    setattr(cls, "__dataclass_fields__", _StdlibFields())  # noqa: B010
    setattr(cls, "__match_args__", tuple(s.name for s in specs))  # noqa: B010
    return cls


def _methods(cls: type, specs: tuple[Field, ...], frozen: bool) -> dict[str, Any]:
    """``__init__``, ``__repr__``, ``__eq__`` (and for frozen, ``__hash__``, ``__setattr__``,
    ``__delattr__``), written as one module's source and run once."""
    names = [s.name for s in specs]
    compared = [s.name for s in specs if s.compare]
    env: dict[str, Any] = {"MISSING": MISSING, "__object_setattr": object.__setattr__}
    params, body = [], []
    for spec in specs:
        if spec.default_factory is not MISSING:
            env[f"__factory_{spec.name}"] = spec.default_factory
            params.append(f"{spec.name}=MISSING")
            value = f"__factory_{spec.name}() if {spec.name} is MISSING else {spec.name}"
        elif spec.default is not MISSING:
            env[f"__default_{spec.name}"] = spec.default
            params.append(f"{spec.name}=__default_{spec.name}")
            value = spec.name
        else:
            params.append(spec.name)
            value = spec.name
        if frozen:
            body.append(f"  __object_setattr(self, {spec.name!r}, {value})")
        else:
            body.append(f"  self.{spec.name} = {value}")
    if hasattr(cls, "__post_init__"):
        body.append("  self.__post_init__()")
    fields_repr = ", ".join(f"{n}={{self.{n}!r}}" for n in names)
    mine = "(" + "".join(f"self.{n}," for n in compared) + ")"
    theirs = "(" + "".join(f"other.{n}," for n in compared) + ")"
    source = [
        f"def __init__(self, {', '.join(params)}):",
        *(body or ["  pass"]),
        "def __repr__(self):",
        f"  return f'{{type(self).__qualname__}}({fields_repr})'",
        "def __eq__(self, other):",
        "  if other.__class__ is not self.__class__:",
        "    return NotImplemented",
        f"  return {mine} == {theirs}",
    ]
    if frozen:
        source += [
            "def __hash__(self):",
            f"  return hash({mine})",
            "def __setattr__(self, name, value):",
            "  _frozen(self, name)",
            "def __delattr__(self, name):",
            "  _frozen(self, name)",
        ]
        env["_frozen"] = _frozen
    exec("\n".join(source), env)  # flowkit's own source, as dataclasses runs its own
    wanted = ["__init__", "__repr__", "__eq__"]
    if frozen:
        wanted += ["__hash__", "__setattr__", "__delattr__"]
    return {name: env[name] for name in wanted}


def _frozen(instance: object, name: str) -> None:
    from dataclasses import FrozenInstanceError

    raise FrozenInstanceError(f"cannot assign to field {name!r}")


def _with_slots(cls: type[T], names: list[str], frozen: bool) -> type[T]:
    """The class made again with ``__slots__`` for its own fields (as dataclasses does)."""
    namespace = dict(cls.__dict__)
    for name in names:
        namespace.pop(name, None)
    namespace.pop("__dict__", None)
    namespace.pop("__weakref__", None)
    namespace["__slots__"] = tuple(names)
    if frozen:  # pickle cannot set slots through a frozen __setattr__ on its own
        namespace.setdefault("__getstate__", _slots_getstate)
        namespace.setdefault("__setstate__", _slots_setstate)
    metaclass: Any = type(cls)
    made: type[T] = metaclass(cls.__name__, cls.__bases__, namespace)
    made.__qualname__ = cls.__qualname__
    return made


def _slots_getstate(self: Any) -> list[Any]:
    return [getattr(self, f.name) for f in type(self).__fastdata_fields__]


def _slots_setstate(self: Any, state: list[Any]) -> None:
    for spec, value in zip(type(self).__fastdata_fields__, state, strict=True):
        object.__setattr__(self, spec.name, value)


class _StdlibFields:
    """``__dataclass_fields__``, made on first use: the standard library's ``Field``s, so that
    ``dataclasses.fields``, ``replace``, ``asdict`` and ``is_dataclass`` take the class."""

    def __get__(self, instance: object, owner: type) -> dict[str, Any]:
        import dataclasses

        made = {}
        for spec in owner.__fastdata_fields__:  # type: ignore[attr-defined]
            std: Any = dataclasses.field(
                default=spec.default if spec.default is not MISSING else dataclasses.MISSING,
                default_factory=(
                    spec.default_factory
                    if spec.default_factory is not MISSING
                    else dataclasses.MISSING
                ),
                compare=spec.compare,
            )
            std.name, std.type = spec.name, spec.type
            # what dataclasses.fields() keeps: a private name (tests/test_fastdata.py checks it)
            std._field_type = dataclasses._FIELD  # type: ignore[attr-defined]
            made[spec.name] = std
        if "__dataclass_fields__" in owner.__dict__:
            type.__setattr__(owner, "__dataclass_fields__", made)
        return made


def fields(obj: Any) -> tuple[Field, ...]:
    """The fields of a class made here, or of an instance of one, in order (this module's
    :class:`Field`, whose ``default`` is :data:`MISSING` when there is none)."""
    cls = obj if isinstance(obj, type) else type(obj)
    try:
        made: tuple[Field, ...] = cls.__fastdata_fields__  # type: ignore[attr-defined]
    except AttributeError:
        raise TypeError(f"{cls.__qualname__} is not a flowkit.fastdata data class") from None
    return made


def is_dataclass(obj: Any) -> bool:
    """Whether ``obj`` is a class made here or an instance of one."""
    return hasattr(obj if isinstance(obj, type) else type(obj), "__fastdata_fields__")


def replace(obj: T, /, **changes: Any) -> T:
    """A copy of ``obj`` (made here) with ``changes``, as ``dataclasses.replace``."""
    for spec in fields(obj):
        if spec.name not in changes:
            changes[spec.name] = getattr(obj, spec.name)
    return obj.__class__(**changes)


def asdict(obj: Any) -> dict[str, Any]:
    """``obj`` as a dict, nested data classes too, values deep-copied
    (``dataclasses.asdict``)."""
    import dataclasses

    return dataclasses.asdict(obj)
