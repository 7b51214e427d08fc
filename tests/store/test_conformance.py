"""Both core backends meet the byte-store contract."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowkit.store import LocalBackend, MemoryBackend
from flowkit.testing import BackendConformance


class TestLocalBackend(BackendConformance):
    @pytest.fixture
    def backend(self, tmp_path: Path) -> LocalBackend:
        return LocalBackend(tmp_path / "store")


class TestMemoryBackend(BackendConformance):
    @pytest.fixture
    def backend(self) -> MemoryBackend:
        return MemoryBackend()
