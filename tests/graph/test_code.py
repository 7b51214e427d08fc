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
