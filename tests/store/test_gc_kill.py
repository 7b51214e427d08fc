"""A gc killed with SIGKILL at any point leaves a store fsck passes, and a second gc then
leaves exactly what an uninterrupted gc does."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from flowkit.store import LocalBackend, Store
from flowkit.store.deadletters import write_letter
from flowkit.store.fsck import fsck
from flowkit.store.gc import collect
from flowkit.store.gc_plan import Policy
from flowkit.testing.kill import kill_when_ready
from tests.conftest import ROOT
from tests.store.gc_helpers import Runs, build

POLICY = Policy(keep_last=1, grace=0)

# Patches one primitive of the local backend so that, after N calls, it says so and hangs:
# the SIGKILL then lands there, every time.
_HANG_AFTER = """
import os, sys, time
sys.path.insert(0, {root!r})
os.environ["FLOWKIT_CLOCK_SKEW_SECONDS"] = "0"
import flowkit.store.local as local

calls = 0
real = local.LocalBackend.{primitive}

def counted(self, *args):
    global calls
    calls += 1
    if calls > {after}:
        open({ready!r}, "w").close()
        time.sleep(60)
    return real(self, *args)

local.LocalBackend.{primitive} = counted
from flowkit.store import LocalBackend, Store
from flowkit.store.gc import collect
from flowkit.store.gc_plan import Policy
collect(Store(LocalBackend({store!r}, durable=False)), Policy(keep_last=1, grace=0))
"""


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    """A store of real runs and a dead letter of a run gc drops; and how many calls of each
    primitive an uninterrupted gc makes, with the deletes that come before the first move
    (the records) apart from the ones after (the trash)."""
    root = tmp_path_factory.mktemp("gc-kill") / "store"
    runs: Runs = build(root)
    store = Store(LocalBackend(root, durable=False))
    [task] = store.records.list_tasks("GatedFlow", runs.b, "middle")
    write_letter(store, task, '{"spec": "of a task"}', ("start/x/0",))
    reference = tmp_path_factory.mktemp("gc-kill-reference") / "store"
    shutil.copytree(root, reference)
    counts = {"delete": 0, "move": 0, "records": 0}
    backend = LocalBackend(reference, durable=False)
    real_delete, real_move = backend.delete, backend.move

    def delete(key: str) -> None:
        counts["delete"] += 1
        counts["records"] += counts["move"] == 0
        real_delete(key)

    def move(key: str, to: str) -> bool:
        counts["move"] += 1
        return real_move(key, to)

    backend.delete, backend.move = delete, move  # type: ignore[method-assign]
    os.environ["FLOWKIT_CLOCK_SKEW_SECONDS"] = "0"
    try:
        collect(Store(backend), POLICY)
    finally:
        del os.environ["FLOWKIT_CLOCK_SKEW_SECONDS"]
    assert counts["records"] > 20 and counts["move"] > 4 and counts["delete"] > counts["records"]
    return root, counts


def _contents(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_size for p in root.rglob("*") if p.is_file()}


def _kill_gc_after(root: Path, primitive: str, after: int, tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    script = _HANG_AFTER.format(
        root=str(ROOT), primitive=primitive, after=after, ready=str(ready), store=str(root)
    )
    kill_when_ready(script, ready)


@pytest.mark.parametrize(
    ("primitive", "where"),
    [
        ("delete", 0.0),  # before the first delete: a cache entry
        ("delete", 0.1),  # among the cache entries and the dead letter
        ("delete", 0.4),  # among the run records
        ("delete", 0.8),  # among the logs
        ("move", 0.5),  # moving blobs to the trash
        ("delete", 1.5),  # emptying the trash
    ],
)
def test_a_killed_gc_leaves_a_sound_store_and_a_second_gc_finishes(
    template: tuple[Path, dict[str, int]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    primitive: str,
    where: float,
) -> None:
    source, counts = template
    monkeypatch.setenv("FLOWKIT_CLOCK_SKEW_SECONDS", "0")
    if primitive == "move":
        after = int(counts["move"] * where)
    elif where <= 1:
        after = int(counts["records"] * where)
    else:  # among the deletes after the moves
        after = counts["records"] + int((counts["delete"] - counts["records"]) * (where - 1))
    killed = tmp_path / "killed"
    shutil.copytree(source, killed)
    whole = tmp_path / "whole"
    shutil.copytree(source, whole)
    _kill_gc_after(killed, primitive, after, tmp_path)
    store = Store(LocalBackend(killed, durable=False))
    assert fsck(store).problems == []
    collect(store, POLICY)
    collect(Store(LocalBackend(whole, durable=False)), POLICY)
    assert _contents(killed) == _contents(whole)
    assert fsck(store).problems == []
