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
``replace``, ``asdict`` and ``is_dataclass`` here do the same without importing it.

Compiling a class's methods still took ~0.6 ms (~50 ms for the classes a ``run`` command
defines), so the code is kept, as Python keeps a module's bytecode: one file per module
under the per-user cache (:func:`flowkit.caches.user_cache`), mapping each class's
generated source, exactly, to its compiled code. A process whose classes are all there
loads that code (~20 us a class) instead of compiling it; one that compiled any writes
its module's file again as it exits, holding the classes it defined there. The source is
the key, so a class that changed can never get another's code, and the file is per Python
version. Nothing is written where Python writes no bytecode (``PYTHONDONTWRITEBYTECODE``);
a file or folder another user could write is never read (its code would run in every
flowkit process), nor is any under ``sudo``; and a file that cannot be read or written
is compiled around.
"""

from __future__ import annotations

import atexit
import contextlib
import marshal
import os
import sys
from collections.abc import Callable
from types import CodeType, MemberDescriptorType, SimpleNamespace
from typing import Any, TypeVar, dataclass_transform, overload

from flowkit.caches import user_cache
from flowkit.files import replace_file

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
    for prefix in ("ClassVar", "typing.ClassVar", "t.ClassVar"):
        if text == prefix or text.startswith(prefix + "["):
            return True
    return False


def _annotations(cls: type) -> dict[str, Any]:
    """The class's own annotations, as written (strings, under ``from __future__ import
    annotations``, which every flowkit module has)."""
    # not inspect.get_annotations: importing inspect is the cost this module avoids
    own = cls.__dict__.get("__annotations__")  # noqa: RUF063
    if own is None and sys.version_info >= (3, 14):  # annotations made lazily, on request
        import annotationlib  # type: ignore[import-not-found, unused-ignore]

        own = annotationlib.get_annotations(cls, format=annotationlib.Format.FORWARDREF)
    return dict(own or {})


def _base_fields(cls: type) -> dict[str, Field]:
    """The fields the class inherits, in the order its bases define them (a base made by the
    standard library's ``@dataclass`` too)."""
    found: dict[str, Field] = {}
    for base in reversed(cls.__mro__[1:]):
        made = base.__dict__.get("__fastdata_fields__")
        if made is None and isinstance(base.__dict__.get("__dataclass_fields__"), dict):
            made = _from_stdlib(base)
        for spec in made or ():
            found[spec.name] = spec
    return found


def _process(cls: type[T], *, frozen: bool, slots: bool) -> type[T]:
    for base in cls.__mro__[1:]:
        base_frozen = _frozen_flag(base)
        if base_frozen is not None and base_frozen != frozen:
            raise TypeError(
                "cannot inherit frozen dataclass from a non-frozen one"
                if frozen
                else "cannot inherit non-frozen dataclass from a frozen one"
            )
    specs_by_name = _base_fields(cls)  # a field redefined keeps its place, as in dataclasses
    own: list[str] = []
    annotations = _annotations(cls)
    for name, annotation in annotations.items():
        if _is_classvar(annotation):
            continue
        value = getattr(cls, name, MISSING)
        if isinstance(value, MemberDescriptorType):  # a base's slot: no default
            value = MISSING
        spec = value if isinstance(value, Field) else Field(value, MISSING, True)
        spec.name, spec.type = name, annotation
        if isinstance(value, Field):  # the class keeps a plain default, as dataclasses does
            if spec.default is MISSING:
                delattr(cls, name)
            else:
                setattr(cls, name, spec.default)
        if spec.default_factory is MISSING and type(spec.default).__hash__ is None:
            raise ValueError(
                f"mutable default {type(spec.default)} for field {name} is not allowed: "
                "use default_factory"
            )
        specs_by_name[name] = spec
        own.append(name)
    for name, value in cls.__dict__.items():
        if isinstance(value, Field) and name not in annotations:
            raise TypeError(f"{name!r} is a field but has no type annotation")
    specs = tuple(specs_by_name.values())
    seen_default = False
    for spec in specs:
        has_default = spec.default is not MISSING or spec.default_factory is not MISSING
        if seen_default and not has_default:
            raise TypeError(f"non-default argument {spec.name!r} follows default argument")
        seen_default = seen_default or has_default
    if slots:
        cls = _with_slots(cls, own, frozen)
    # as dataclasses: a __hash__ the class wrote itself stays; else frozen ones hash their
    # compared fields and mutable ones are unhashable (their __eq__ compares values)
    own_hash = cls.__dict__.get("__hash__", MISSING)
    explicit_hash = own_hash is not MISSING and not (own_hash is None and "__eq__" in cls.__dict__)
    methods = _methods(cls, specs, frozen)
    for name, method in methods.items():
        if name in ("__setattr__", "__delattr__") and name in cls.__dict__:
            raise TypeError(f"cannot overwrite attribute {name} in class {cls.__name__}")
        method.__qualname__ = f"{cls.__qualname__}.{name}"
        if name == "__hash__" or name in cls.__dict__:
            continue  # a method the class defines itself wins
        setattr(cls, name, method)
    if not explicit_hash:
        cls.__hash__ = methods["__hash__"] if frozen else None  # type: ignore[assignment]
    if "__match_args__" not in cls.__dict__:
        setattr(cls, "__match_args__", tuple(s.name for s in specs))  # noqa: B010
    if "__replace__" not in cls.__dict__:  # copy.replace, from Python 3.13
        setattr(cls, "__replace__", replace)  # noqa: B010 - not an attribute mypy knows
    setattr(cls, "__fastdata_fields__", specs)  # noqa: B010
    setattr(cls, "__fastdata_frozen__", frozen)  # noqa: B010
    setattr(cls, "__dataclass_fields__", _StdlibFields())  # noqa: B010
    setattr(cls, "__dataclass_params__", _StdlibParams())  # noqa: B010
    return cls


def _frozen_flag(cls: type) -> bool | None:
    """Whether a data class base is frozen (None: ``cls`` is no data class)."""
    if "__fastdata_frozen__" in cls.__dict__:
        return bool(cls.__dict__["__fastdata_frozen__"])
    if isinstance(cls.__dict__.get("__dataclass_fields__"), dict):  # the standard library's
        return bool(cls.__dict__["__dataclass_params__"].frozen)
    return None


def _methods(cls: type, specs: tuple[Field, ...], frozen: bool) -> dict[str, Any]:
    """``__init__``, ``__repr__``, ``__eq__`` (and for frozen, ``__hash__``, ``__setattr__``,
    ``__delattr__``), written as one module's source and run once."""
    names = [s.name for s in specs]
    compared = [s.name for s in specs if s.compare]
    env: dict[str, Any] = {"_FACTORY": _FACTORY, "__object_setattr": object.__setattr__}
    params, body = [], []
    for spec in specs:
        if spec.default_factory is not MISSING:
            env[f"__factory_{spec.name}"] = spec.default_factory
            params.append(f"{spec.name}=_FACTORY")
            value = f"__factory_{spec.name}() if {spec.name} is _FACTORY else {spec.name}"
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
            # as dataclasses: a plain subclass may set attributes of its own
            "def __setattr__(self, name, value):",
            "  if type(self) is __cls or name in __names:",
            "    _frozen(f'cannot assign to field {name!r}')",
            "  super(__cls, self).__setattr__(name, value)",
            "def __delattr__(self, name):",
            "  if type(self) is __cls or name in __names:",
            "    _frozen(f'cannot delete field {name!r}')",
            "  super(__cls, self).__delattr__(name)",
        ]
        env.update(_frozen=_frozen, __cls=cls, __names=frozenset(names))
    exec(_compiled("\n".join(source), cls.__module__), env)  # flowkit's own source
    env["__init__"].__annotations__ = {**{s.name: s.type for s in specs}, "return": None}
    wanted = ["__init__", "__repr__", "__eq__"]
    if frozen:
        wanted += ["__hash__", "__setattr__", "__delattr__"]
    return {name: env[name] for name in wanted}


#: By module: the compiled code of every class source read from its cache file or made here.
_codes: dict[str, dict[str, CodeType]] = {}
#: By module: the sources of the classes defined in this process (what its file holds).
_defined: dict[str, set[str]] = {}
#: Modules a class of which was compiled here: their files are written at exit.
_compiled_in: set[str] = set()


def _compiled(source: str, module: str) -> CodeType:
    """The code of ``source``, the methods of a class of ``module``: from the cache, else
    compiled (and the module's cache file written at exit)."""
    codes = _codes.get(module)
    if codes is None:
        codes = _codes[module] = _read_codes(module)
    _defined.setdefault(module, set()).add(source)
    code = codes.get(source)
    if code is None:
        code = codes[source] = compile(source, "<string>", "exec")
        if not _compiled_in and not sys.dont_write_bytecode:
            atexit.register(_write_codes)
        _compiled_in.add(module)
    return code


def _codes_file(module: str) -> str | None:
    """The cache file of ``module``'s classes for this exact Python (its version, pre-release
    serial included); None where no cache is used: a relative cache folder, or a process
    whose effective user is not its real one (``sudo`` keeping the user's ``HOME``)."""
    folder = user_cache("fastdata")
    if not os.path.isabs(folder) or _euid() != getattr(os, "getuid", _euid)():
        return None
    return os.path.join(folder, f"{module}.{sys.implementation.cache_tag}-{sys.hexversion:x}")


def _euid() -> int:
    return os.geteuid() if hasattr(os, "geteuid") else 0


def _trusted(info: os.stat_result) -> bool:
    """Whether a cache file or folder is this user's alone: code loaded from it runs in
    every flowkit process, so one another user could write is never read."""
    return not hasattr(os, "geteuid") or (info.st_uid == _euid() and not info.st_mode & 0o022)


def _read_codes(module: str) -> dict[str, CodeType]:
    """The compiled code the cache holds for ``module``'s classes; nothing if it cannot be
    read, is not this user's alone, or is not what this module writes."""
    path = _codes_file(module)
    if path is None:
        return {}
    try:
        with open(path, "rb") as fh:
            if not (_trusted(os.fstat(fh.fileno())) and _trusted(os.stat(os.path.dirname(path)))):
                return {}
            codes = marshal.load(fh)
    except (OSError, EOFError, ValueError, TypeError):
        return {}
    if not isinstance(codes, dict) or not all(
        isinstance(k, str) and isinstance(v, CodeType) for k, v in codes.items()
    ):
        return {}
    return codes


def _write_codes() -> None:
    """Write the cache file of each module a class of which was compiled here, with the
    code of the classes this process defined in it, whole (:func:`flowkit.files.replace_file`):
    a reader sees one process's file or another's, never a mix."""
    for module in sorted(_compiled_in):
        path = _codes_file(module)
        if path is None:
            continue
        codes = {source: _codes[module][source] for source in _defined[module]}
        folder = os.path.dirname(path)
        with contextlib.suppress(OSError):  # a read-only or full disk: the next one compiles
            os.makedirs(folder, mode=0o700, exist_ok=True)
            if _trusted(os.stat(folder)):
                replace_file(path, marshal.dumps(codes))
    _compiled_in.clear()


def _frozen(message: str) -> None:
    from dataclasses import FrozenInstanceError

    raise FrozenInstanceError(message)


class _Factory:
    def __repr__(self) -> str:
        return "<factory>"


#: The default ``__init__`` shows for a field made by its default_factory.
_FACTORY = _Factory()


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
            std.name, std.type, std.kw_only = spec.name, spec.type, False
            # what dataclasses.fields() keeps: a private name (tests/test_fastdata.py checks it)
            std._field_type = dataclasses._FIELD  # type: ignore[attr-defined]
            made[spec.name] = std
        if "__dataclass_fields__" in owner.__dict__:
            type.__setattr__(owner, "__dataclass_fields__", made)
        return made


class _StdlibParams:
    """``__dataclass_params__``, for what reads it (a standard library data class that
    subclasses one of these reads ``frozen``; pytest's diffs read ``repr``)."""

    def __get__(self, instance: object, owner: type) -> Any:
        return SimpleNamespace(
            init=True,
            repr=True,
            eq=True,
            order=False,
            unsafe_hash=False,
            frozen=owner.__fastdata_frozen__,  # type: ignore[attr-defined]
            match_args=True,
            kw_only=False,
            slots="__slots__" in owner.__dict__,
            weakref_slot=False,
        )


def _from_stdlib(cls: type) -> tuple[Field, ...]:
    """The fields of a class the standard library's ``@dataclass`` made, as this module's."""
    import dataclasses

    made = []
    for std in dataclasses.fields(cls):
        spec = Field(
            MISSING if std.default is dataclasses.MISSING else std.default,
            MISSING if std.default_factory is dataclasses.MISSING else std.default_factory,
            std.compare,
        )
        spec.name, spec.type = std.name, std.type
        made.append(spec)
    return tuple(made)


def fields(obj: Any) -> tuple[Field, ...]:
    """The fields of a data class or an instance of one, in order, as this module's
    :class:`Field` (whose ``default`` is :data:`MISSING` when there is none), whether this
    module or the standard library made the class; a ``TypeError`` for anything else."""
    cls = obj if isinstance(obj, type) else type(obj)
    made: tuple[Field, ...] | None = getattr(cls, "__fastdata_fields__", None)
    if made is not None:
        return made
    if is_dataclass(cls):
        return _from_stdlib(cls)
    raise TypeError("must be called with a dataclass type or instance")


def is_dataclass(obj: Any) -> bool:
    """Whether ``obj`` is a data class (this module's or the standard library's) or an
    instance of one, without importing :mod:`dataclasses` to tell."""
    cls = obj if isinstance(obj, type) else type(obj)
    # every class made here has one too (a descriptor that would import dataclasses if read)
    return any("__dataclass_fields__" in c.__dict__ for c in cls.__mro__)


def replace(obj: T, /, **changes: Any) -> T:
    """A copy of ``obj`` with ``changes``, as ``dataclasses.replace``."""
    for spec in fields(obj):
        if spec.name not in changes:
            changes[spec.name] = getattr(obj, spec.name)
    return obj.__class__(**changes)


def asdict(obj: Any) -> dict[str, Any]:
    """``obj`` (a data class instance) as a dict, as ``dataclasses.asdict`` makes it: nested
    data classes, lists, tuples and dicts converted, anything else deep-copied."""
    if isinstance(obj, type) or not is_dataclass(obj):
        raise TypeError("asdict() should be called on dataclass instances")
    made: dict[str, Any] = _plain(obj)
    return made


_IMMUTABLE = (str, int, float, bool, bytes, type(None))


def _plain(value: Any) -> Any:
    if type(value) in _IMMUTABLE:  # what deepcopy would hand back as it is
        return value
    if not isinstance(value, type) and is_dataclass(value):
        return {spec.name: _plain(getattr(value, spec.name)) for spec in fields(value)}
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # a named tuple
        return type(value)(*[_plain(v) for v in value])
    if isinstance(value, list | tuple):
        return type(value)(_plain(v) for v in value)
    if isinstance(value, dict):
        return type(value)((_plain(k), _plain(v)) for k, v in value.items())
    import copy

    return copy.deepcopy(value)
