"""flowkit.fastdata's ``@dataclass`` behaves as the standard library's for every option flowkit
uses: each check runs on classes made by both, and their answers must agree. (That a client
imports neither :mod:`dataclasses` nor :mod:`inspect` is tests/store/test_open.py's.)"""

from __future__ import annotations

import copy
import dataclasses
import inspect
from types import ModuleType
from typing import Any, ClassVar

import pytest

from flowkit import fastdata


def shapes(dc: ModuleType) -> dict[str, Any]:
    """The same classes, made by ``dc.dataclass``."""

    @dc.dataclass(frozen=True)
    class Ref:
        digest: str
        size: int = 0
        tags: tuple[str, ...] = ()
        extra: dict[str, int] = dc.field(default_factory=dict)
        note: str = dc.field(default="", compare=False)
        KIND: ClassVar[str] = "ref"

    @dc.dataclass
    class Mutable:
        name: str
        items: list[int] = dc.field(default_factory=list)

    @dc.dataclass(frozen=True)
    class Checked:
        low: int
        high: int

        def __post_init__(self) -> None:
            if self.low > self.high:
                raise ValueError("low above high")

    @dc.dataclass(frozen=True)
    class Child(Ref):
        step: str = "start"

    @dc.dataclass(frozen=True, slots=True)
    class Slotted:
        a: int
        b: str = "b"

    @dc.dataclass(frozen=True)
    class OwnMethods:
        x: int

        def __repr__(self) -> str:
            return f"<x {self.x}>"

        def __hash__(self) -> int:
            return 7

    @dc.dataclass(frozen=True)
    class Redefined(Ref):
        digest: str = "again"  # an inherited field redefined: it keeps its place

    class Defaults:
        size = 4

    @dc.dataclass
    class FromBase(Defaults):
        size: int  # its default comes from the base class

    class Plain(Ref):  # not a data class: may set attributes of its own
        pass

    return {
        "Redefined": Redefined,
        "FromBase": FromBase,
        "Plain": Plain,
        "Ref": Ref,
        "Mutable": Mutable,
        "Checked": Checked,
        "Child": Child,
        "Slotted": Slotted,
        "OwnMethods": OwnMethods,
    }


BOTH = [dataclasses, fastdata]


def observe(dc: ModuleType) -> list[Any]:
    """What a user of the classes can see, as plain values."""
    c = shapes(dc)
    Ref, Mutable, Checked, Child, Slotted, Own = (
        c[k] for k in ("Ref", "Mutable", "Checked", "Child", "Slotted", "OwnMethods")
    )
    seen: list[Any] = []
    r = Ref("d", 3, ("t",), note="n")
    seen += [repr(r), r == Ref("d", 3, ("t",), note="other"), r == Ref("d", 4), r != Ref("d")]
    seen += [Ref.KIND, r.extra]
    with pytest.raises(TypeError, match="unhashable type: 'dict'"):
        hash(r)  # its dict field
    seen += [Ref("a").extra is not Ref("b").extra]
    with pytest.raises(dataclasses.FrozenInstanceError) as frozen:
        r.size = 5
    seen.append(str(frozen.value))
    with pytest.raises(dataclasses.FrozenInstanceError):
        del r.size
    seen += [[f.name for f in dataclasses.fields(r)], dataclasses.asdict(r)]
    seen += [repr(dataclasses.replace(r, size=9)), dataclasses.is_dataclass(Ref)]
    seen += [dataclasses.is_dataclass(r), Ref.__match_args__]
    m = Mutable("m")
    m.items.append(1)
    m.name = "n"
    seen += [repr(m), m == Mutable("n", [1]), Mutable.__hash__ is None]
    with pytest.raises(ValueError, match="low above high"):
        Checked(2, 1)
    seen.append(repr(Checked(1, 2)))
    child = Child("d", step="s")
    seen += [repr(child), [f.name for f in dataclasses.fields(Child)], child == Ref("d")]
    seen += [isinstance(child, Ref), dataclasses.asdict(child)]
    s = Slotted(1)
    seen += [repr(s), hasattr(s, "__dict__"), Slotted.__slots__, hash(s) == hash(Slotted(1))]
    # the state protocol pickle uses (a local class cannot be pickled by reference)
    seen += [copy.deepcopy(s) == s, copy.deepcopy(r) == r, s.__reduce_ex__(2)[2]]
    seen += [repr(Own(1)), hash(Own(1)), Own(1) == Own(1)]
    with pytest.raises(TypeError) as missing:
        Ref()
    seen.append(type(missing.value).__name__)
    with pytest.raises(dataclasses.FrozenInstanceError) as deleting:
        del r.digest
    seen.append(str(deleting.value))
    seen += [repr(c["Redefined"](1)), c["Redefined"].__match_args__, repr(c["FromBase"]())]
    plain = c["Plain"]("d")
    plain.mine = 1
    seen.append(plain.mine)
    with pytest.raises(dataclasses.FrozenInstanceError):
        plain.digest = "x"
    seen += [str(inspect.signature(cls)) for cls in (Ref, Mutable, Child, Slotted)]
    seen += [Ref.__dataclass_params__.frozen, Mutable.__dataclass_params__.frozen]

    @dataclasses.dataclass(frozen=True)
    class StdlibChild(Ref):  # the standard library's, on top of one of these
        queue: str = "q"

    @dc.dataclass(frozen=True)
    class OnStdlib(StdlibChild):  # and one of these on top of that
        more: int = 1

    seen += [repr(StdlibChild("d")), repr(OnStdlib("d", more=2)), OnStdlib.__match_args__]
    nested = Mutable("n", [Ref("x", tags=("a",)), {"k": (1, [2])}, {3}])
    seen += [dc.asdict(child) if dc is fastdata else dataclasses.asdict(child)]
    seen += [(dc.asdict if dc is fastdata else dataclasses.asdict)(nested)]
    return seen


def test_the_classes_behave_as_the_standard_librarys() -> None:
    assert observe(fastdata) == observe(dataclasses)


@pytest.mark.parametrize("dc", BOTH, ids=["dataclasses", "fastdata"])
def test_definitions_dataclasses_refuse_are_refused(dc: ModuleType) -> None:
    with pytest.raises(ValueError, match="mutable default"):

        @dc.dataclass
        class Shared:
            items: list[int] = []  # noqa: RUF012 - the mistake under test

    with pytest.raises(TypeError, match="non-default argument 'b' follows default argument"):

        @dc.dataclass
        class Order:
            a: int = 0
            b: int

    with pytest.raises(ValueError, match="mutable default"):

        @dc.dataclass
        class SharedInstance:
            inner: Any = dataclasses.make_dataclass("Box", ["x"])(1)  # unhashable: mutable

    with pytest.raises(TypeError, match="non-frozen dataclass from a frozen one"):
        Frozen = dc.dataclass(frozen=True)(type("Frozen", (), {"__annotations__": {"a": "int"}}))
        dc.dataclass(type("Thawed", (Frozen,), {"__annotations__": {"b": "int"}}))

    with pytest.raises(TypeError, match="'loose' is a field but has no type annotation"):

        @dc.dataclass
        class Loose:
            loose = dc.field(default=1)

    with pytest.raises(TypeError, match="__setattr__"):

        @dc.dataclass(frozen=True)
        class Settable:
            a: int

            def __setattr__(self, name: str, value: object) -> None:
                object.__setattr__(self, name, value)


def test_fields_and_is_dataclass_take_the_standard_librarys_classes_too() -> None:
    @dataclasses.dataclass
    class Theirs:
        x: int
        tags: list[str] = dataclasses.field(default_factory=list)

    assert fastdata.is_dataclass(Theirs) and fastdata.is_dataclass(Theirs(1))
    assert not fastdata.is_dataclass(object()) and not fastdata.is_dataclass(int)
    x, tags = fastdata.fields(Theirs)
    assert (x.name, x.default is fastdata.MISSING, tags.default_factory) == ("x", True, list)
    assert fastdata.replace(Theirs(1, ["a"]), x=2) == Theirs(2, ["a"])
    with pytest.raises(TypeError, match="dataclass type or instance"):
        fastdata.fields(object())
