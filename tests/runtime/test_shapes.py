"""Every graph shape runs with the right artifact values, with 1 worker and with several."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

import flowkit
from flowkit.client import Run

SHAPES = ["linear", "branch", "foreach", "nested_foreach", "switch", "recursion", "all_shapes"]


def flow_of(module: str) -> tuple[type, dict]:
    mod = importlib.import_module(f"tests.flows.{module}")
    cls = next(
        v
        for k, v in vars(mod).items()
        if k.endswith("Flow") and isinstance(v, type) and v.__module__ == mod.__name__
    )
    return cls, getattr(mod, "EXPECTED", {})


def check_expected(run: Run, expected: dict) -> None:
    for step, values in expected.items():
        tasks = list(run[step])
        assert len(tasks) == 1, (step, tasks)
        for name, value in values.items():
            got = getattr(tasks[0].data, name)
            got = (
                [list(p) if isinstance(p, tuple) else p for p in got]
                if isinstance(got, list)
                else got
            )
            assert got == value, (step, name)


@pytest.mark.parametrize("workers", [1, 4])
@pytest.mark.parametrize("shape", SHAPES)
def test_shape_runs_with_correct_values(shape: str, workers: int, tmp_path: Path) -> None:
    cls, expected = flow_of(shape)
    run = flowkit.run(cls, store=str(tmp_path), max_workers=workers, quiet=True, progress=Quiet())
    assert run.successful and run.finished
    check_expected(run, expected)
    steps = {s.id for s in run}
    assert steps == set(flowkit.graph_of(cls).steps) - _skipped(shape)


def _skipped(shape: str) -> set[str]:
    return {"switch": {"low"}, "recursion": set(), "all_shapes": {"small"}}.get(shape, set())


def test_all_shapes_values(tmp_path: Path) -> None:
    from tests.flows.all_shapes import AllShapesFlow

    run = flowkit.run(AllShapesFlow, store=str(tmp_path), progress=Quiet(), rounds=3)
    data = run["outer_join"].task.data
    assert data.all_pairs == [(1, "a"), (1, "b"), (2, "a"), (2, "b")]
    loops = sorted(t.data.count for t in run["loop"])
    assert loops == [1, 2, 3]
    assert run["merge"].task.data.sides == ["L", "R"] and run["merge"].task.data.shared == 1
    assert run.data.label == "big"


def test_foreach_positions_and_parameters(tmp_path: Path) -> None:
    from tests.flows.foreach import ForeachFlow

    run = flowkit.run(ForeachFlow, store=str(tmp_path), progress=Quiet(), n=30)
    assert run["join"].task.data.total == sum(i * i for i in range(30))
    assert run["join"].task.data.order == list(range(30))
    assert len(list(run["square"])) == 30


class Quiet:
    """A progress sink that records events, so tests can assert on them."""

    def __init__(self) -> None:
        self.events: list[object] = []

    def handle(self, event: object) -> None:
        self.events.append(event)

    def close(self) -> None:
        pass
