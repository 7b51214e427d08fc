"""Fixtures for the scheduler's tests: a local store, and deployments written directly."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowkit.store import LocalBackend, Store
from flowkit.store.deployments import Deployment

FLOWS = Path(__file__).parent / "flows"


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(LocalBackend(tmp_path / "store", durable=False))


def deployment(flow: str = "NightlyFlow", **fields: object) -> Deployment:
    """A deployment record as ``flowkit deploy`` writes one, without a flow file."""
    values: dict[str, object] = {
        "flow": flow,
        "version": "v1",
        "created_at": 0.0,
        "active_since": 0.0,
    }
    values.update(fields)
    return Deployment(**values)  # type: ignore[arg-type]
