"""A store with real runs for the gc tests, built once per session and copied per test."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import flowkit
from flowkit.store import LocalBackend, Store
from flowkit.store.ids import id_time
from tests.conftest import ROOT
from tests.flows.gated import GatedFlow
from tests.runtime.test_shapes import Quiet


@dataclass(frozen=True)
class Runs:
    """The run ids of the template store, oldest first: ``tagged`` (tag ``prod``), ``a``,
    ``b``, ``resumed`` (resumed from ``a`` at ``middle``: it clones ``start`` from ``a``),
    ``last``."""

    tagged: str
    a: str
    b: str
    resumed: str
    last: str

    @property
    def all(self) -> list[str]:
        return [self.tagged, self.a, self.b, self.resumed, self.last]


def build(root: Path) -> Runs:
    def run(value: int, **options: object) -> str:
        return flowkit.run(GatedFlow, store=str(root), progress=Quiet(), value=value, **options).id

    tagged = run(1, tags=["prod"])
    a = run(2)
    b = run(3)
    resumed = flowkit.resume(
        GatedFlow, "middle", origin_run_id=a, store=str(root), progress=Quiet()
    ).id
    last = run(5)
    return Runs(tagged, a, b, resumed, last)


def copy(template: Path, to: Path) -> Store:
    shutil.copytree(template, to)
    return Store(LocalBackend(to, durable=False))


def files(root: Path) -> dict[str, tuple[int, float]]:
    """Every file under ``root`` with its size and modification time."""
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime)
        for p in root.rglob("*")
        if p.is_file()
    }


def blob_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in (root / "blobs").rglob("*") if p.is_file())


def age_trash(root: Path, seconds: float) -> None:
    """Make every trash batch of the local store at ``root`` ``seconds`` older: its name (a
    time-sortable id) says when gc made it."""
    for batch in (root / "trash").iterdir():
        made = id_time(batch.name)
        assert made is not None, batch
        ms, head = round((made - seconds) * 1000), ""
        for _ in range(10):  # the id's first ten characters: milliseconds in base 32
            head, ms = _ID_ALPHABET[ms & 31] + head, ms >> 5
        batch.rename(batch.with_name(head + batch.name[10:]))


_ID_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"


def run_ids(store: Store) -> list[str]:
    return sorted(r.run_id for r in store.records.iter_runs("GatedFlow"))


@contextmanager
def gated_run(root: Path, gate: Path, flow: str, value: int) -> Iterator[GatedRun]:
    """Start ``flow`` (``module:Class`` of a gated flow under tests/flows) in a subprocess on
    the store at ``root`` and wait until it waits at ``gate``; on leaving, open the gate and
    wait for it to end (killed if it does not). ``GatedRun.run_id`` is set once it ended."""
    module, cls = flow.split(":")
    script = (
        f"import flowkit\nfrom {module} import {cls}\n"
        f"run = flowkit.run({cls}, store={str(root)!r}, quiet=True, gate={str(gate)!r},"
        f" value={value})\nprint(run.id)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", script], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
    )
    going = GatedRun(proc)
    try:
        deadline = time.monotonic() + 60
        while not Path(f"{gate}.waiting").exists():
            assert proc.poll() is None and time.monotonic() < deadline, "the run never started"
            time.sleep(0.05)
        yield going
        gate.write_text("go")
        out, _ = proc.communicate(timeout=60)
        going.run_id = out.split()[-1] if out.split() else None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@dataclass
class GatedRun:
    process: subprocess.Popen[str]
    run_id: str | None = None
