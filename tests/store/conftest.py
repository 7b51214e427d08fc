"""Fixtures for store tests: a fresh local store per test."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowkit.store import LocalBackend, Store


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(LocalBackend(tmp_path / "store", durable=False))


def blob_file(store: Store, digest: str) -> Path:
    backend = store.backend
    assert isinstance(backend, LocalBackend)
    return backend.path_of(f"blobs/{digest[:2]}/{digest}")


def tree_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
