"""numpy's global generator in forked tasks behaves as in a fresh process per task: unseeded,
each task (and each run reusing a warm worker) draws its own numbers (numpy seeds it on first
use, in the task); seeded as the flow's module is imported, every task starts from that seed."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest

import flowkit
from tests.runtime.test_shapes import Quiet

pytestmark = pytest.mark.slow

_FLOW = """
import numpy as np
from flowkit import FlowSpec, step
{seeding}

class {name}(FlowSpec):
    @step
    def start(self):
        self.items = [0, 1, 2]
        self.next(self.draw, foreach="items")

    @step
    def draw(self):
        self.value = float(np.random.random_sample())
        self.next(self.join)

    @step
    def join(self, inputs):
        self.values = [i.value for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        pass
"""


def _draws(tmp_path: Path, name: str, seeding: str, runs: int) -> list[list[float]]:
    flow = tmp_path / f"{name.lower()}.py"
    flow.write_text(textwrap.dedent(_FLOW.format(name=name, seeding=seeding)))
    store = str(tmp_path / "store")
    return [
        flowkit.run(str(flow), store=store, progress=Quiet())["join"].task.data.values
        for _ in range(runs)
    ]


def test_unseeded_tasks_draw_their_own_numbers_in_every_run(tmp_path: Path) -> None:
    # the second run reuses the first one's warm worker: it must not repeat its draws
    first, second = _draws(tmp_path, "UnseededFlow", "", runs=2)
    assert len(set(first + second)) == 6, (first, second)


def test_a_seed_set_as_the_module_is_imported_holds_in_every_task(tmp_path: Path) -> None:
    first, second = _draws(tmp_path, "SeededFlow", "np.random.seed(7)", runs=2)
    expected = float(np.random.RandomState(7).random_sample())
    assert first == second == [expected] * 3
