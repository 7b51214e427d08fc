"""Resume benchmark: resume of a 20-step linear flow that failed at step 19, and the cost of
cloning per task, from a 1,000-split fan-out whose join failed.

    python benchmarks/resume_bench.py [--repeat 3]

Times are wall clock of ``python flow.py resume`` as a user runs it; the clone cost is the
resume's time minus that of a resume with nothing to clone, divided by the tasks cloned.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FLOWS = ROOT / "tests" / "flows"


def _run(args: list[str], env: dict[str, str], check: bool = True) -> float:
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    if check and result.returncode != 0:
        raise SystemExit(f"{args} failed with {result.returncode}")
    return time.perf_counter() - started


def resume_case(flow: str, fail_env: dict[str, str], extra: list[str]) -> float:
    with tempfile.TemporaryDirectory() as store:
        env = {**os.environ, "PYTHONPATH": str(ROOT), **fail_env}
        _run([str(FLOWS / flow), "run", "--store", store, "--quiet", *extra], env, check=False)
        clean = {k: v for k, v in env.items() if k not in fail_env}
        return _run([str(FLOWS / flow), "resume", "--store", store, "--quiet"], clean)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--splits", type=int, default=1000)
    args = parser.parse_args()
    linear = [
        resume_case("long_linear.py", {"FLOWKIT_TEST_FAIL_AT": "s19"}, [])
        for _ in range(args.repeat)
    ]
    print(
        f"resume 20-step flow failing at step 19: {statistics.median(linear):.3f} s "
        f"(runs: {', '.join(f'{t:.3f}' for t in linear)})"
    )
    with tempfile.TemporaryDirectory() as folder:
        flow = Path(folder) / "fanout_join_fails.py"
        shutil.copy(FLOWS / "fanout.py", flow)
        text = flow.read_text().replace(
            "        self.total = sum(i.value for i in inputs)",
            "        if os.environ.get('FAIL_JOIN'):\n            raise RuntimeError('join told to fail')\n"
            "        self.total = sum(i.value for i in inputs)",
        )
        flow.write_text(text)
        times = []
        for _ in range(args.repeat):
            with tempfile.TemporaryDirectory() as store:
                env = {**os.environ, "PYTHONPATH": str(ROOT), "FAIL_JOIN": "1"}
                _run(
                    [
                        str(flow),
                        "run",
                        "--store",
                        store,
                        "--quiet",
                        "--n",
                        str(args.splits),
                        "--max-workers",
                        "2",
                    ],
                    env,
                    check=False,
                )
                clean = {k: v for k, v in env.items() if k != "FAIL_JOIN"}
                times.append(_run([str(flow), "resume", "--store", store, "--quiet"], clean))
        baseline = statistics.median(linear)
        per_task = (statistics.median(times) - baseline) / (args.splits + 1)
        print(
            f"resume of a {args.splits}-split fan-out whose join failed: "
            f"{statistics.median(times):.3f} s; about {per_task * 1000:.2f} ms per cloned task"
        )


if __name__ == "__main__":
    main()
