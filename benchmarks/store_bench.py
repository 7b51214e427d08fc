"""Benchmark of the store's hot paths (not a test): big-array persist/load, fresh-process
open-and-read, and iterating 1,000 tasks.

    .venv/bin/python benchmarks/store_bench.py [--size-mb 500] [--tasks 1000] [--keep DIR]

Each measurement that involves memory runs in a fresh subprocess, so peak RSS is that of one
interpreter doing one thing; peak RSS is sampled every 2 ms by a psutil thread. Subprocesses
run with bytecode caching on (as in an installed package), whatever PYTHONDONTWRITEBYTECODE
says here (with it set, every fresh process also compiles flowkit: about +20 ms).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: What both child scripts start with: imports, and a thread sampling peak RSS.
_SAMPLER = """
import json, sys, threading, time
sys.path.insert(0, {root!r})
import numpy as np, psutil
from flowkit.store import LocalBackend, Store

proc = psutil.Process()
peak = [0]
stop = threading.Event()
def sample():
    while not stop.is_set():
        peak[0] = max(peak[0], proc.memory_info().rss)
        time.sleep(0.002)
"""

_PERSIST = (
    _SAMPLER
    + """
store = Store(LocalBackend({store!r}, durable={durable}))
array = np.random.default_rng(0).random({size} // 8)
before = proc.memory_info().rss
threading.Thread(target=sample, daemon=True).start()
t0 = time.perf_counter(); ref = store.values.put(array, name="array"); t1 = time.perf_counter()
t2 = time.perf_counter(); store.values.put(array, name="array"); t3 = time.perf_counter()
stop.set(); time.sleep(0.01)
print(json.dumps(dict(persist_s=t1 - t0, again_s=t3 - t2, rss_before=before, peak_rss=peak[0],
                      digest=ref.digest)))
"""
)

_LOAD = (
    _SAMPLER
    + """
store = Store(LocalBackend({store!r}))
before = proc.memory_info().rss
threading.Thread(target=sample, daemon=True).start()
t0 = time.perf_counter(); array = store.values.load({digest!r}); t1 = time.perf_counter()
stop.set(); time.sleep(0.01)
assert array.nbytes == {size}
print(json.dumps(dict(load_s=t1 - t0, rss_before=before, peak_rss=peak[0])))
"""
)

_FRESH_READ = (
    "from flowkit.client import Flow; "
    "run = Flow('BenchFlow', store={store!r}).latest_run; "
    "assert run['end'].task.data.{name} is not None"
)


def _python(code: str) -> tuple[float, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    return time.perf_counter() - t0, done.stdout


def _best_of(code: str, times: int = 7) -> float:
    return min(_python(code)[0] for _ in range(times))


def bench_array(store_dir: Path, size: int, durable: bool) -> dict[str, float]:
    code = _PERSIST.format(root=str(ROOT), store=str(store_dir), size=size, durable=durable)
    persisted = json.loads(_python(textwrap.dedent(code))[1])
    code = _LOAD.format(root=str(ROOT), store=str(store_dir), digest=persisted["digest"], size=size)
    loaded = json.loads(_python(textwrap.dedent(code))[1])
    return {
        "persist_s": persisted["persist_s"],
        "persist_again_s": persisted["again_s"],
        "persist_peak_rss_x": persisted["peak_rss"] / size,
        "persist_extra_rss_mb": (persisted["peak_rss"] - persisted["rss_before"]) / 2**20,
        "load_s": loaded["load_s"],
        "load_peak_rss_x": loaded["peak_rss"] / size,
    }


def setup_runs(store_dir: Path, tasks: int) -> None:
    sys.path.insert(0, str(ROOT))
    import numpy as np

    from flowkit.store import LocalBackend, Store

    store = Store(LocalBackend(store_dir, durable=False))
    run = store.records.create_run("BenchFlow", steps=["start", "train", "end"])
    for step, count in (("start", 1), ("train", tasks), ("end", 1)):
        for i in range(count):
            start = store.records.start_task("BenchFlow", run.run_id, step, foreach=(i,))
            values = {"score": {"task": i, "score": i / 7}}
            if step == "end":
                values["small"] = {"best": 0.5, "grid": [0.1, 1.0]}
                values["weights"] = np.random.default_rng(1).random(1_000_000)  # 8 MB
            refs = store.values.put_artifacts(values, step=step)
            store.records.finish_task(start.finished("succeeded", artifacts=refs))
    store.records.end_run("BenchFlow", run.run_id, "succeeded")


def bench_iteration(store_dir: Path, indexed: bool) -> float:
    from flowkit.client import Flow
    from flowkit.store import LocalBackend, Store

    store = Store(LocalBackend(store_dir))
    run = Flow("BenchFlow", store=store).latest_run
    assert run is not None
    if not indexed:
        (store_dir / "runs" / "BenchFlow" / run.id / "index" / "train.json").rename(
            store_dir / "train.index"
        )
    try:
        t0 = time.perf_counter()
        total = sum(task.data.score["score"] for task in run["train"])
        elapsed = time.perf_counter() - t0
    finally:
        if not indexed:
            (store_dir / "train.index").rename(
                store_dir / "runs" / "BenchFlow" / run.id / "index" / "train.json"
            )
    assert total > 0
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=500)
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--keep", type=Path, default=None, help="Use (and keep) this store dir.")
    args = parser.parse_args()
    (ROOT / ".flowkit").mkdir(exist_ok=True)  # on the project's disk, not a tmpfs /tmp
    with tempfile.TemporaryDirectory(dir=ROOT / ".flowkit" if args.keep is None else None) as tmp:
        base = args.keep or Path(tmp)
        size = args.size_mb * 10**6 // 8 * 8
        print(f"store under {base}; array {size / 1e6:.0f} MB float64; {args.tasks} tasks")
        for durable in (True, False):
            result = bench_array(base / f"array-{durable}", size, durable)
            label = "fsync" if durable else "no fsync"
            print(
                f"array persist ({label}): {result['persist_s']:.2f} s, again (dedupe) "
                f"{result['persist_again_s']:.2f} s, peak RSS {result['persist_peak_rss_x']:.2f}x "
                f"array (+{result['persist_extra_rss_mb']:.0f} MB over the array's process); "
                f"load {result['load_s']:.2f} s, peak RSS {result['load_peak_rss_x']:.2f}x"
            )
        runs = base / "runs-store"
        setup_runs(runs, args.tasks)
        _python(f"import compileall; compileall.compile_dir({str(ROOT / 'flowkit')!r}, quiet=1)")
        startup = _best_of("pass")
        imports = _best_of("import flowkit.client")
        small = _best_of(_FRESH_READ.format(store=str(runs), name="small"))
        big = _best_of(_FRESH_READ.format(store=str(runs), name="weights"))
        print(
            f"fresh process, open latest run + read one small artifact: {small:.3f} s "
            f"(python startup alone {startup:.3f} s, startup + import flowkit.client "
            f"{imports:.3f} s; an 8 MB numpy artifact instead: {big:.3f} s)"
        )
        for indexed in (True, False):
            times = [bench_iteration(runs, indexed) for _ in range(5)]
            label = "finished run (step index)" if indexed else "listing records (no index)"
            print(
                f"iterate {args.tasks} tasks reading one small artifact each, {label}: "
                f"{min(times):.3f} s (best of 5)"
            )


if __name__ == "__main__":
    main()
