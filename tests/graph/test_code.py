"""The helpers a step's cache key hashes are the functions it calls, not every function that
shares a name with an attribute it reads."""

from __future__ import annotations

import linecache
from types import FunctionType

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
