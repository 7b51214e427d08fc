"""Runtime benchmark: wall time of ``python flow.py run`` as a user runs it.

    python -m benchmarks.runtime_bench [--repeat 3] [--sizes 100,1000] [--big]

Scenarios: a 3-step hello flow, a 20-step linear flow, and foreach fan-outs (100 and 1,000
splits by default; ``--big`` adds 10,000) on 2 workers; the per-task overhead is the fan-out's
extra time per task, and the scaling is the wall-time ratio of the two largest fan-outs
(linear scaling makes it the ratio of their sizes). Each scenario runs ``--repeat`` times on a
fresh store; the median is reported.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.flows import FOREACH, HELLO, linear

#: The fan-out ``--big`` adds.
BIG = 10_000


def timed(flow: Path, *args: str) -> float:
    with tempfile.TemporaryDirectory() as store:
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, str(flow), "run", "--quiet", "--store", store, *args],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sizes", default="100,1000")
    parser.add_argument("--big", action="store_true", help="add a 10,000-split fan-out")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "hello.py").write_text(HELLO)
        (root / "linear20.py").write_text(linear(20))
        (root / "fan.py").write_text(FOREACH)
        scenarios = [
            ("hello (3 steps)", root / "hello.py", []),
            ("linear 20 steps", root / "linear20.py", []),
        ]
        sizes = sorted({int(s) for s in args.sizes.split(",")} | ({BIG} if args.big else set()))
        for n in sizes:
            scenarios.append(
                (f"foreach {n}, 2 workers", root / "fan.py", ["--n", str(n), "--max-workers", "2"])
            )
        results = {}
        print(f"{'scenario':<28} {'median s':>9}  runs")
        for label, flow, extra in scenarios:
            runs = [timed(flow, *extra) for _ in range(args.repeat)]
            results[label] = statistics.median(runs)
            print(f"{label:<28} {results[label]:>9.3f}  {', '.join(f'{r:.3f}' for r in runs)}")
        if len(sizes) >= 2:
            small, big = sizes[0], sizes[-1]
            extra_time = (
                results[f"foreach {big}, 2 workers"] - results[f"foreach {small}, 2 workers"]
            )
            per_task = extra_time / (big - small) * 2  # two tasks run at once
            print(
                f"per-task overhead (2 workers): {per_task * 1000:.1f} ms of worker time per task"
            )
            below, top = sizes[-2:]
            ratio = results[f"foreach {top}, 2 workers"] / results[f"foreach {below}, 2 workers"]
            print(
                f"scaling: foreach {top} takes {ratio:.2f}x foreach {below} ({top / below:g}x tasks)"
            )


if __name__ == "__main__":
    main()
