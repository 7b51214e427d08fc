"""gc's retention rules on a store of real runs: what is kept reads back and resumes, what
is dropped is gone, the bytes are freed, fsck is clean; a dry run changes nothing and
reports the numbers the real run then does."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

import flowkit
from flowkit.client import Run
from flowkit.store import NotFoundError, Store
from flowkit.store.fsck import fsck
from flowkit.store.gc import collect
from flowkit.store.gc_plan import NoRetentionRuleError, Policy
from tests.flows.gated import GatedFlow
from tests.runtime.test_shapes import Quiet
from tests.store.gc_helpers import Runs, blob_bytes, build, copy, files, run_ids

VALUES = {"tagged": 1, "a": 2, "b": 3, "resumed": 2, "last": 5}


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Runs]:
    root = tmp_path_factory.mktemp("gc-template") / "store"
    return root, build(root)


@pytest.fixture
def copied(
    template: tuple[Path, Runs], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Store, Runs]:
    monkeypatch.setenv("FLOWKIT_CLOCK_SKEW_SECONDS", "0")
    return copy(template[0], tmp_path / "store"), template[1]


def _check_reads_back(store: Store, run_id: str, value: int) -> None:
    """Every artifact of the run loads and every task's logs read (a clone's from its
    origin)."""
    run = Run(f"GatedFlow/{run_id}", store=store)
    assert run["start"].task.data.data == list(range(value * 100))
    assert run["middle"].task.data.fresh == f"fresh {value}"
    for step in ("start", "middle", "end"):
        record = run[step].task.record
        assert [line.text for line in store.logs.read(record, "stdout")] == [f"{step} {value}"]


def _names(runs: Runs, kept: list[str]) -> list[str]:
    return sorted(getattr(runs, name) for name in kept)


@pytest.mark.parametrize(
    ("policy", "kept"),
    [
        # the last two are 'resumed' and 'last'; 'resumed' clones from 'a', so 'a' stays
        (Policy(keep_last=2, grace=0), ["a", "resumed", "last"]),
        (Policy(keep_tags=("prod",), grace=0), ["tagged"]),
        (Policy(keep_last=1, keep_tags=("prod",), grace=0), ["tagged", "last"]),
        (Policy(keep_tags=("nope",), grace=0), []),
    ],
    ids=["keep-last", "keep-tag", "last-and-tag", "nothing"],
)
def test_retention_rule(copied: tuple[Store, Runs], policy: Policy, kept: list[str]) -> None:
    store, runs = copied
    root = Path(store.url)
    before = blob_bytes(root)
    report = collect(store, policy)
    assert run_ids(store) == _names(runs, kept)
    assert report.dropped == {"GatedFlow": sorted(set(runs.all) - set(_names(runs, kept)))}
    assert report.kept == len(kept)
    for name in kept:
        _check_reads_back(store, getattr(runs, name), VALUES[name])
    for name in set(vars(runs)) - set(kept):
        with pytest.raises(NotFoundError):
            store.records.get_run("GatedFlow", getattr(runs, name))
        for top in ("runs", "logs"):  # (a local store keeps the emptied folders)
            assert not _files_under(root / top / "GatedFlow" / getattr(runs, name))
        assert not (root / "leases" / "GatedFlow" / f"{getattr(runs, name)}.json").exists()
    # grace 0: the trash is emptied in the same call, and the bytes are gone from the disk
    assert report.trashed > 0 and report.freed == report.trashed and report.waiting == 0
    assert blob_bytes(root) == before - report.freed_bytes
    assert not _files_under(root / "trash")
    assert fsck(store).problems == []


def test_keep_newer_than_keeps_runs_created_since(copied: tuple[Store, Runs]) -> None:
    store, runs = copied
    created = store.records.get_run("GatedFlow", runs.b).created_at
    now = created + 100
    collect(store, Policy(keep_newer_than=100, grace=0), now=now)
    # 'b' and everything after it; 'resumed' keeps 'a', its origin
    assert run_ids(store) == sorted([runs.a, runs.b, runs.resumed, runs.last])
    _check_reads_back(store, runs.resumed, 2)
    assert fsck(store).problems == []


def test_a_kept_run_resumes_and_its_origin_stays(copied: tuple[Store, Runs]) -> None:
    store, runs = copied
    collect(store, Policy(keep_last=2, grace=0))
    again = flowkit.resume(
        GatedFlow, "end", origin_run_id=runs.resumed, store=store.url, progress=Quiet()
    )
    _check_reads_back(store, again.id, 2)
    # a second gc keeping the last run keeps the chain it was cloned from
    report = collect(store, Policy(keep_last=1, grace=0))
    assert report.dropped == {"GatedFlow": [runs.last]}
    assert run_ids(store) == sorted([runs.a, runs.resumed, again.id])
    _check_reads_back(store, again.id, 2)
    assert fsck(store).problems == []


def test_flow_limits_what_goes(copied: tuple[Store, Runs]) -> None:
    store, runs = copied
    report = collect(store, Policy(keep_tags=("nope",), grace=0, flow="OtherFlow"))
    assert report.dropped == {} and report.trashed == 0
    assert run_ids(store) == sorted(runs.all)


def test_no_rule_is_refused(copied: tuple[Store, Runs]) -> None:
    store, runs = copied
    with pytest.raises(NoRetentionRuleError, match="gc needs a retention rule") as info:
        collect(store, Policy(grace=0))
    assert "--keep-last N" in info.value.render()
    assert run_ids(store) == sorted(runs.all)


def test_dry_run_changes_nothing_and_reports_what_the_real_run_does(
    copied: tuple[Store, Runs],
) -> None:
    store, _ = copied
    root = Path(store.url)
    (root / "blobs" / "ab").mkdir(exist_ok=True)
    (root / "blobs" / "ab" / ".tmp-1-abc").write_bytes(b"x" * 10)  # a killed writer's
    two_hours_ago = time.time() - 7200
    os.utime(root / "blobs" / "ab" / ".tmp-1-abc", (two_hours_ago, two_hours_ago))
    policy = Policy(keep_last=2, grace=0)
    before = files(root)
    dry = collect(store, policy, dry_run=True)
    assert files(root) == before
    real = collect(store, policy)
    same = (
        "dropped", "kept", "leftovers", "trashed", "trashed_bytes", "young", "restored",
        "freed", "freed_bytes", "waiting", "waiting_bytes", "temporaries", "temporaries_bytes",
    )  # fmt: skip
    assert {k: getattr(dry, k) for k in same} == {k: getattr(real, k) for k in same}
    assert dry.trashed > 0 and dry.temporaries == 1 and dry.temporaries_bytes == 10
    assert "would be deleted" in dry.summary() and "nothing was changed" in dry.summary()
    assert "3 deleted" not in dry.summary() and "2 deleted (2 of GatedFlow)" in real.summary()


def test_with_a_grace_period_the_trash_waits(copied: tuple[Store, Runs]) -> None:
    store, runs = copied
    root = Path(store.url)
    before = blob_bytes(root)
    first = collect(store, Policy(keep_last=1, grace=3600), now=_later(store, runs))
    assert first.trashed > 0 and first.freed == 0 and first.waiting == first.trashed
    assert first.waiting_until is not None and "waiting in the trash" in first.summary()
    assert blob_bytes(root) == before - first.trashed_bytes  # moved, not deleted
    assert len(_files_under(root / "trash")) == first.trashed
    second = collect(store, Policy(keep_last=1, grace=0))
    assert second.freed == first.trashed and second.freed_bytes == first.trashed_bytes
    assert not _files_under(root / "trash")
    assert fsck(store).problems == []


def _later(store: Store, runs: Runs) -> float:
    """Two hours after the last run: everything in the store is older than a 1 h grace."""
    return store.records.get_run("GatedFlow", runs.last).created_at + 7200


def _files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]
