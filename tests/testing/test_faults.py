"""The fault-injecting backend: any backend, failing a write half-way on demand."""

from __future__ import annotations

import errno
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from flowkit.store import Bytes, LocalBackend, MemoryBackend, StoreError, open_store
from flowkit.store.errors import StoreFullError
from flowkit.testing import BackendConformance
from flowkit.testing.faults import ENV, FaultyBackend, faulty_url
from tests.conftest import ROOT


class TestFaultyLocalBackend(BackendConformance):
    @pytest.fixture
    def backend(self, tmp_path: Path) -> FaultyBackend:
        return FaultyBackend(LocalBackend(tmp_path / "store"))


class TestFaultyMemoryBackend(BackendConformance):
    @pytest.fixture
    def backend(self) -> FaultyBackend:
        return FaultyBackend(MemoryBackend())


class Recording(MemoryBackend):
    """Remembers the parts of a write it received before the write failed."""

    def put(self, key: str, parts: Sequence[Bytes]) -> None:
        self.seen = []
        for part in parts:
            self.seen.append(bytes(part))
        super().put(key, parts)


def test_a_write_fails_after_its_first_part(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, "enospc:blobs/")
    inner = Recording()
    backend = FaultyBackend(inner)
    with pytest.raises(OSError) as info:
        backend.put("blobs/ab", [b"head", b"body", b"tail"])
    assert info.value.errno == errno.ENOSPC
    assert inner.seen == [b"head"] and not backend.exists("blobs/ab")
    backend.put("runs/x", [b"other", b"keys"])  # only keys that contain the part fail
    assert backend.get("runs/x") == b"otherkeys"


def test_a_full_local_disk_keeps_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, "enospc:blobs/")
    backend = FaultyBackend(LocalBackend(tmp_path))
    with pytest.raises(StoreFullError, match=f"the store at {tmp_path} is full: writing blobs/ab"):
        backend.put("blobs/ab", [b"head", b"body"])
    with pytest.raises(StoreFullError, match="writing blobs/cd failed"):
        backend.put_new("blobs/cd", b"record")
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_with_a_marker_it_fires_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, f"enospc:k:{tmp_path / 'fired'}")
    backend = FaultyBackend(MemoryBackend())
    with pytest.raises(StoreFullError):
        backend.put_new("k1", b"x")
    assert (tmp_path / "fired").exists()
    assert backend.put_new("k1", b"x") and backend.get("k1") == b"x"


def test_the_url_opens_the_wrapper_in_any_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_store(faulty_url(tmp_path / "s"))
    assert store.url == f"faulty://{tmp_path / 's'}" and store.shared
    assert open_store(store.url).url == store.url  # what a task reopens
    assert not open_store("faulty://memory://x").shared
    script = f"from flowkit.store import open_store; open_store({store.url!r}).values.put(1)"
    monkeypatch.setenv(ENV, "kill:blobs/")
    killed = subprocess.run([sys.executable, "-c", script], cwd=ROOT, timeout=60)
    assert killed.returncode == -signal.SIGKILL
    assert list((tmp_path / "s").rglob(".tmp-*")), "the kill did not land mid-write"
    monkeypatch.delenv(ENV)
    assert subprocess.run([sys.executable, "-c", script], cwd=ROOT, timeout=60).returncode == 0


def test_an_unknown_inner_store_says_so() -> None:
    with pytest.raises(StoreError, match="no installed store backend handles nope://"):
        open_store("faulty://nope://x")
