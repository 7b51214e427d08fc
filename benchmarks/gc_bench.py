"""Benchmark of ``flowkit gc`` on a big local store (not a test).

    .venv/bin/python benchmarks/gc_bench.py [--blobs 100000] [--runs 200] [--keep-last 50]

Builds a store of ``--blobs`` blobs written straight through the backend (most of them named
by nothing), plus ``--runs`` runs of 10 tasks, each task naming 5 blobs; then times a dry run
and a real gc keeping the last ``--keep-last`` runs, with a grace of 0 (the trash is emptied
in the same call). Each gc runs in a fresh process, as ``flowkit gc`` would.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flowkit.store import LocalBackend, Store  # noqa: E402
from flowkit.store.blobs import blob_key, digest_of, encode  # noqa: E402
from flowkit.store.records import ArtifactRef  # noqa: E402
from flowkit.store.serialize import to_frames  # noqa: E402

_GC = """
import json, sys, time
sys.path.insert(0, {root!r})
from flowkit.store import LocalBackend, Store
from flowkit.store.gc import collect
from flowkit.store.gc_plan import Policy
store = Store(LocalBackend({store!r}))
t0 = time.perf_counter()
report = collect(store, Policy(keep_last={keep_last}, grace=0), dry_run={dry_run})
seconds = time.perf_counter() - t0
print(json.dumps(dict(seconds=seconds, runs=sum(map(len, report.dropped.values())),
                      trashed=report.trashed, freed=report.freed, young=report.young)))
"""


def build(root: Path, blobs: int, runs: int) -> list[str]:
    """The store: ``blobs`` small distinct blobs, and ``runs`` runs naming some of them."""
    backend = LocalBackend(root, durable=False)
    digests = []
    for i in range(blobs):
        frames = to_frames(("value", i))
        digest = digest_of(frames.segments)
        backend.put(blob_key(digest), encode(frames))
        digests.append(digest)
    store = Store(backend)
    named = iter(digests)
    for _ in range(runs):
        run = store.records.create_run("BenchFlow", steps=["work"])
        for _ in range(10):
            start = store.records.start_task("BenchFlow", run.run_id, "work")
            refs = {f"a{k}": ArtifactRef(next(named), 10, "tuple") for k in range(5)}
            store.records.finish_task(start.finished("succeeded", artifacts=refs))
        store.records.end_run("BenchFlow", run.run_id, "succeeded")
    return digests


def gc(root: Path, keep_last: int, *, dry_run: bool) -> dict[str, float]:
    script = _GC.format(root=str(ROOT), store=str(root), keep_last=keep_last, dry_run=dry_run)
    env = {**os.environ, "FLOWKIT_CLOCK_SKEW_SECONDS": "0"}
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blobs", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--keep-last", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="flowkit-gc-bench-") as folder:
        root = Path(folder) / "store"
        t0 = time.perf_counter()
        build(root, args.blobs, args.runs)
        built = time.perf_counter() - t0
        time.sleep(0.05)  # every blob is older than the gc's start, by the file system's clock
        dry = gc(root, args.keep_last, dry_run=True)
        real = gc(root, args.keep_last, dry_run=False)
        again = gc(root, args.keep_last, dry_run=False)
    print(
        json.dumps(
            dict(blobs=args.blobs, runs=args.runs, build_s=built, dry=dry, real=real, again=again),
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
