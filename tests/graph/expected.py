"""The graph every reading of tests/flows/all_shapes.py must produce, location aside."""

from __future__ import annotations

from typing import Any

EXPECTED_STEPS: dict[str, dict[str, Any]] = {
    "start": {"transition": "split", "targets": ["left", "right"], "parents": [], "join": False},
    "left": {"transition": "linear", "targets": ["merge"], "parents": ["start"], "join": False},
    "right": {"transition": "linear", "targets": ["merge"], "parents": ["start"], "join": False},
    "merge": {
        "transition": "foreach",
        "targets": ["fan"],
        "parents": ["left", "right"],
        "join": True,
        "foreach": "outer",
    },
    "fan": {
        "transition": "foreach",
        "targets": ["leaf"],
        "parents": ["merge"],
        "join": False,
        "foreach": "inner",
    },
    "leaf": {"transition": "linear", "targets": ["inner_join"], "parents": ["fan"], "join": False},
    "inner_join": {
        "transition": "linear",
        "targets": ["outer_join"],
        "parents": ["leaf"],
        "join": True,
    },
    "outer_join": {
        "transition": "linear",
        "targets": ["loop"],
        "parents": ["inner_join"],
        "join": True,
    },
    "loop": {
        "transition": "switch",
        "targets": ["loop", "choose"],
        "parents": ["outer_join", "loop"],
        "join": False,
        "condition": "again",
        "cases": {"yes": "loop", "no": "choose"},
    },
    "choose": {
        "transition": "switch",
        "targets": ["big", "small"],
        "parents": ["loop"],
        "join": False,
        "condition": "mode",
        "cases": {"big": "big", "small": "small"},
    },
    "big": {"transition": "linear", "targets": ["end"], "parents": ["choose"], "join": False},
    "small": {"transition": "linear", "targets": ["end"], "parents": ["choose"], "join": False},
    "end": {"transition": "end", "targets": [], "parents": ["big", "small"], "join": False},
}

# Line of each 'def' relative to the line of 'class AllShapesFlow'.
EXPECTED_OFFSETS = {
    "start": 6,
    "left": 12,
    "right": 18,
    "merge": 23,
    "fan": 30,
    "leaf": 36,
    "inner_join": 41,
    "outer_join": 46,
    "loop": 52,
    "choose": 58,
    "big": 64,
    "small": 69,
    "end": 74,
}


def assert_all_shapes(graph_json: dict[str, Any]) -> None:
    """Check a graph's JSON against the expected shape, docstrings and decorators."""
    assert graph_json["flow"] == "AllShapesFlow"
    assert graph_json["doc"] == "A flow that uses every kind of transition."
    steps = {s["name"]: s for s in graph_json["steps"]}
    assert list(steps) == list(EXPECTED_STEPS)
    for name, want in EXPECTED_STEPS.items():
        got = steps[name]
        for key, value in want.items():
            assert got[key] == value, (name, key, got[key], value)
        assert got["line"] - graph_json["line"] == EXPECTED_OFFSETS[name], name
    assert steps["start"]["doc"] == "Begin." and steps["end"]["doc"] == "Finish."
    decorators = {
        n: [d["name"] for d in s["decorators"]] for n, s in steps.items() if s["decorators"]
    }
    assert decorators == {"right": ["retry"], "leaf": ["resources"], "big": ["catch"]}
    assert steps["right"]["decorators"][0]["args"]["times"] == 2
    assert steps["big"]["decorators"][0]["args"]["var"] == "big_error"
    assert graph_json["parameters"] == [
        {
            "attr": "rounds",
            "name": "rounds",
            "type": "int",
            "default": 2,
            "required": False,
            "help": "how often the loop repeats",
        }
    ]
