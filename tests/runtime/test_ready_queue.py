"""The scheduler's ready queue costs each launch O(1), not a pass over every waiting task:
a 10,000-split fan-out must not turn quadratic in the scheduler."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import flowkit
from flowkit.runtime import scheduler
from tests.flows.fanout import FanoutFlow
from tests.runtime.test_shapes import Quiet

SPLITS = 100


class CountedTask(scheduler.LiveAttempt):
    """A queued task that counts how often the scheduler looks at when it is due."""

    looks = 0

    def __getattribute__(self, name: str) -> Any:
        if name == "not_before":
            CountedTask.looks += 1
        return super().__getattribute__(name)


def test_launching_a_fan_out_looks_at_each_task_a_few_times_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scheduler, "LiveAttempt", CountedTask)
    CountedTask.looks = 0
    run = flowkit.run(FanoutFlow, store=str(tmp_path), progress=Quiet(), max_workers=1, n=SPLITS)
    assert run["join"].task.data.total == sum(i * 10 for i in range(SPLITS))
    assert CountedTask.looks < 10 * SPLITS  # sorting the queue at each launch: ~SPLITS**2 / 2
