"""The warm worker's zygote keeps a shepherd forked ahead of the next task: one killed as it
waits (by an operator, the OOM killer) costs nothing but that fork, done again for the task."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import flowkit
from tests.flows.spare_killed import SpareKilledFlow
from tests.runtime.test_shapes import Quiet

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the flow finds the spare through /proc"
)


def test_a_spare_shepherd_killed_while_it_waits_is_replaced(tmp_path: Path) -> None:
    run = flowkit.run(SpareKilledFlow, store=str(tmp_path / "s"), progress=Quiet())
    assert run.successful
    assert run["start"].task.data.killed >= 1
    assert [s.id for s in run.graph_steps()] == ["start", "middle", "end"]
