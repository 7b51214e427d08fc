"""The helpers a step's cache key hashes are the functions it calls, not every function that
shares a name with an attribute it reads."""

from __future__ import annotations

import ast
import linecache
from types import FunctionType

import pytest

from flowkit.graph.code import helpers

CELL = """\
def fit(x):
    return x + 1

def score(x):
    return fit(x) * 2

def uses_attributes(self):
    self.model = self.estimator.fit(self.rows)
    self.scores = [m.score for m in self.models]

def uses_helpers(self):
    self.scores = [score(r) for r in self.rows]
"""


def _cell() -> dict[str, FunctionType]:
    filename = "<flowkit-test-graph-cell>"
    linecache.cache[filename] = (len(CELL), None, CELL.splitlines(True), filename)
    namespace: dict[str, object] = {"__name__": "__main__"}
    exec(compile(CELL, filename, "exec"), namespace)
    return {k: v for k, v in namespace.items() if isinstance(v, FunctionType)}


def test_an_attribute_named_like_a_function_is_not_a_helper() -> None:
    assert helpers(_cell()["uses_attributes"]) == {}


def test_helpers_called_directly_or_through_helpers_are_hashed() -> None:
    found = helpers(_cell()["uses_helpers"])
    assert found == {
        "score": "def score(x):\n    return fit(x) * 2",
        "fit": "def fit(x):\n    return x + 1",
    }


def _reads(body: str, parameters: tuple[str, ...] = ("alpha", "beta", "cfg")) -> tuple[str, ...]:
    from flowkit.graph.code import parameters_read
    from flowkit.graph.source import parse_python

    node = parse_python(body).body[0]
    assert isinstance(node, ast.FunctionDef)
    return parameters_read(node, parameters, methods=("scaled",))


@pytest.mark.parametrize(
    ("body", "reads"),
    [
        (
            "def s(self):\n    self.x = self.beta + self.alpha\n    self.next(self.end)",
            ("beta", "alpha"),
        ),
        ("def s(self):\n    self.x = read(self)", ("alpha", "beta", "cfg")),
        ("def s(self):\n    self.x = getattr(self, name)", ("alpha", "beta", "cfg")),
        ("def s(self):\n    flow = self\n    self.x = flow.cfg.x", ("alpha", "beta", "cfg")),
        ("def s(self):\n    self.x = self.__dict__['alpha']", ("alpha", "beta", "cfg")),
        ("def s(self):\n    self.x = self.scaled()", ("alpha", "beta", "cfg")),
        ("def s(self, inputs):\n    self.x = [i.alpha for i in inputs]", ("alpha",)),
    ],
)
def test_parameters_read_through_self_passed_on_count_all(
    body: str, reads: tuple[str, ...]
) -> None:
    assert _reads(body) == reads


def test_a_flow_method_or_property_a_step_uses_is_in_its_key() -> None:
    from flowkit import FlowSpec, Parameter, step
    from flowkit.graph.build import build_graph

    class MethodFlow(FlowSpec):
        alpha = Parameter("alpha", default=1)

        @step
        def start(self):  # type: ignore[no-untyped-def]
            self.x = self.scaled()
            self.next(self.end)

        @step
        def end(self):  # type: ignore[no-untyped-def]
            self.y = self.doubled

        def scaled(self):  # type: ignore[no-untyped-def]
            return self.alpha * 10

        @property
        def doubled(self):  # type: ignore[no-untyped-def]
            return self.alpha * 2

    graph = build_graph(MethodFlow)
    assert graph["start"].reads == ("alpha",) and graph["end"].reads == ("alpha",)
    plain = build_graph(type("MethodFlow", (MethodFlow,), {"scaled": lambda self: 0}))
    assert plain["start"].code_digest != graph["start"].code_digest
    assert plain["end"].code_digest == graph["end"].code_digest


CONSTANTS = """\
import os

SCALE = 10
NAMES = {"b", "a"}
LOOKUP = {"k": (1, 2.5, b"x", None)}
PATH = os.path


class Limits:
    TOP = 5
    ITEMS = [1, 2]

    def method(self):
        return 1


def helper(x):
    return x + SCALE


def reads_constants(self):
    self.x = helper(1) * Limits.TOP + len(NAMES) + len(LOOKUP)


def reads_nothing_constant(self):
    self.x = helper2(PATH.join("a", "b"), Limits.method, missing_name, len, os)


def helper2(*args):
    return args
"""


def _constants_cell(source: str) -> dict[str, FunctionType]:
    filename = f"<flowkit-test-constants-{hash(source)}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace: dict[str, object] = {"__name__": "constants_cell"}
    exec(compile(source, filename, "exec"), namespace)
    return {k: v for k, v in namespace.items() if isinstance(v, FunctionType)}


def test_plain_data_constants_a_step_or_its_helpers_read_are_in_its_key() -> None:
    found = helpers(_constants_cell(CONSTANTS)["reads_constants"])
    assert {k: v for k, v in found.items() if k.startswith("=")} == {
        "= SCALE": "int:10",
        "= NAMES": "set[str:'a', str:'b']",
        "= LOOKUP": "dict[str:'k': tuple[int:1, float:2.5, bytes:b'x', NoneType:None]]",
        "= Limits.TOP": "int:5",
    }
    edited = _constants_cell(CONSTANTS.replace("SCALE = 10", "SCALE = 11"))
    assert helpers(edited["reads_constants"])["= SCALE"] == "int:11"


def test_a_step_reading_no_plain_constant_keeps_its_key() -> None:
    # modules, functions, classes' methods, builtins and missing names are not constants
    found = helpers(_constants_cell(CONSTANTS)["reads_nothing_constant"])
    assert sorted(found) == ["helper2"]


def test_static_and_class_methods_and_cached_properties_are_flow_methods() -> None:
    import functools

    from flowkit import FlowSpec, step
    from flowkit.graph.build import build_graph
    from flowkit.graph.code import flow_methods

    class StaticFlow(FlowSpec):
        THRESH = 3

        @step
        def start(self):  # type: ignore[no-untyped-def]
            self.a = self.scale(3) + self.shifted(1) + self.cached
            self.next(self.end)

        @step
        def end(self):  # type: ignore[no-untyped-def]
            self.t = self.THRESH

        @staticmethod
        def scale(x):  # type: ignore[no-untyped-def]
            return x * 10

        @classmethod
        def shifted(cls, x):  # type: ignore[no-untyped-def]
            return x + 1

        @functools.cached_property
        def cached(self):  # type: ignore[no-untyped-def]
            return 2

    methods = flow_methods(StaticFlow, ("start", "end"))
    assert sorted(methods) == ["cached", "scale", "shifted"]
    assert methods["scale"](3) == 30 and methods["shifted"](StaticFlow, 1) == 2
    graph = build_graph(StaticFlow)
    for name, value in [
        ("scale", staticmethod(lambda x: x * 100)),
        ("shifted", classmethod(lambda cls, x: x + 2)),
        ("cached", functools.cached_property(lambda self: 3)),
    ]:
        edited = build_graph(type("StaticFlow", (StaticFlow,), {name: value}))
        assert edited["start"].code_digest != graph["start"].code_digest, name
        assert edited["end"].code_digest == graph["end"].code_digest, name
    # a class attribute read as self.THRESH: only the step that reads it changes
    edited = build_graph(type("StaticFlow", (StaticFlow,), {"THRESH": 4}))
    assert edited["end"].code_digest != graph["end"].code_digest
    assert edited["start"].code_digest == graph["start"].code_digest


DECORATOR_ARGUMENTS = """\
class Shift:
    def __init__(self, by):
        self.by = by


def post(x):
    return x + OFFSET


OFFSET = 1
"""


def test_decorator_arguments_that_are_functions_sets_or_objects_have_stable_text() -> None:
    import json
    import threading

    from flowkit.graph.code import key_text

    def load(source: str) -> dict[str, object]:
        filename = f"<flowkit-test-arguments-{hash(source)}>"
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        namespace: dict[str, object] = {"__name__": "arguments_cell"}
        exec(compile(source, filename, "exec"), namespace)
        return namespace

    first, second = load(DECORATOR_ARGUMENTS), load(DECORATOR_ARGUMENTS + "\n# a comment\n")
    shift = first["Shift"]
    assert callable(shift)

    def text(value: object) -> str:
        rendered, why = key_text([[value], {}])
        assert why == "" and " at 0x" not in rendered
        return rendered

    plain = [["a"], {"n": 1}]  # JSON data: the text it always had
    assert key_text(plain) == (json.dumps(plain, sort_keys=True), "")
    assert text({3, 1, 2}) == text({2, 3, 1}) != text({1, 2})
    assert text(first["post"]) == text(second["post"])  # reloaded, same code: same text
    assert "return x + OFFSET" in text(first["post"]) and "int:1" in text(first["post"])
    assert text(load(DECORATOR_ARGUMENTS.replace("x + OFFSET", "x * OFFSET"))["post"]) != text(
        first["post"]
    )
    assert text(load(DECORATOR_ARGUMENTS.replace("OFFSET = 1", "OFFSET = 2"))["post"]) != text(
        first["post"]
    )
    assert text(shift(2)) == text(shift(2)) != text(shift(3))
    rendered, why = key_text([[threading.Lock()], {}])
    assert why == "a lock (cannot pickle '_thread.lock' object)"
    assert key_text([[threading.Lock()], {}])[0] != rendered  # never matches another run's
