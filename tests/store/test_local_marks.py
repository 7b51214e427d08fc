"""An empty object (a mark: a log's end) is created in place by the local backend: write-once
as any other, with no temporary file and no fsync, since there are no bytes to tear."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from flowkit.store import LocalBackend
from flowkit.store.errors import StoreFullError


def test_a_mark_is_created_once_in_place_without_a_fsync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = LocalBackend(tmp_path / "store")  # durable: other writes fsync
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(fd) or real_fsync(fd))
    assert backend.put_new("logs/F/1/start/2/0/end", b"") is True
    assert backend.put_new("logs/F/1/start/2/0/end", b"") is False
    assert backend.put_new("logs/F/1/start/2/0/end", b"late content") is False
    assert synced == []
    assert backend.get("logs/F/1/start/2/0/end") == b""
    assert list(backend.temporaries()) == []
    assert backend.put_new("runs/F/1/run.json", b"{}") is True
    assert len(synced) == 1  # a write with bytes is still made durable before it is named


def test_an_object_with_bytes_is_not_taken_for_a_mark(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path / "store", durable=False)
    assert backend.put_new("a/b", b"x") is True
    assert backend.put_new("a/b", b"") is False
    assert backend.get("a/b") == b"x"


def test_a_mark_on_a_full_disk_is_a_store_full_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = LocalBackend(tmp_path / "store")
    real_open = os.open

    def full(path: str, flags: int, mode: int = 0o777) -> int:
        if str(path).endswith("/end"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_open(path, flags, mode)

    monkeypatch.setattr(os, "open", full)
    with pytest.raises(StoreFullError):
        backend.put_new("logs/F/1/start/2/0/end", b"")
    assert not backend.exists("logs/F/1/start/2/0/end")
