"""A store holding fake runs of one flow, written through the real store API."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from flowkit.store import ExceptionInfo, LocalBackend, RunRecord, Store
from flowkit.testing import FakeTask, write_fake_run


@dataclass
class Runs:
    store: Store
    good: RunRecord
    failed: RunRecord
    running: RunRecord


@pytest.fixture
def runs(tmp_path: Path) -> Runs:
    store = Store(LocalBackend(tmp_path / "store", durable=False))
    good = write_fake_run(
        store,
        "TrainFlow",
        {
            "start": [FakeTask({"grid": [0.1, 1.0], "alpha": 0.5}, stdout="loading\n")],
            "train": [
                FakeTask({"model": {"c": c}, "weights": np.arange(4) * c}, foreach=(i,))
                for i, c in enumerate([0.1, 1.0])
            ],
            "end": [
                FakeTask(
                    {"best": 1.0},
                    stdout="best is 1.0\n",
                    stderr="warning: tiny grid\n",
                    failed_attempts=1,
                )
            ],
        },
        parameters={"alpha": 0.5},
        tags=["nightly"],
    )
    boom = ExceptionInfo("ValueError", "bad row 7", "Traceback (most recent call last):\n...")
    failed = write_fake_run(
        store,
        "TrainFlow",
        {"start": [FakeTask({"grid": []})], "train": [FakeTask(status="failed", exception=boom)]},
        finish="failed",
    )
    running = write_fake_run(store, "TrainFlow", {"start": [FakeTask({"grid": [1]})]}, finish=None)
    store.leases.renew("TrainFlow", running.run_id, interval=3600)  # its scheduler is alive
    return Runs(store, good, failed, running)
