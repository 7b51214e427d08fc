"""Slurm executor benchmark, on the tests' single-node Slurm cluster on 127.0.0.1 (needs
Slurm and munge installed: ``bash scripts/install-test-services.sh``; run as root).

    python -m benchmarks.slurm_bench [--splits 200] [--max-workers 0]

- the same foreach of ``--splits`` tiny tasks run as a user runs it, locally and with
  ``--with slurm``: wall time of each, and the overhead per task on Slurm;
- every Slurm command the run made, counted by shims on PATH in front of the real ones
  (``sbatch``, ``squeue``, ``scancel``, ``scontrol``), per run and per task;
- the floor: one bare ``sbatch --array`` of the same width whose elements only start the
  interpreter and import flowkit's worker, timed from submission until squeue says all ended.
"""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.flows import FOREACH

ROOT = Path(__file__).resolve().parents[1]
SLURM_TESTS = ROOT / "extensions" / "flowkit-slurm" / "tests"
COMMANDS = ("sbatch", "squeue", "scancel", "scontrol")


def _shims(folder: Path, log: Path) -> Path:
    """A folder of scripts that log their name to ``log``, then run the real command."""
    shims = folder / "shims"
    shims.mkdir()
    for name in COMMANDS:
        real = shutil.which(name)
        assert real is not None, f"{name} is not installed"
        script = shims / name
        script.write_text(f'#!/bin/sh\necho {name} >> "{log}"\nexec "{real}" "$@"\n')
        script.chmod(0o755)
    return shims


def _calls(log: Path) -> collections.Counter[str]:
    return collections.Counter(log.read_text().split()) if log.exists() else collections.Counter()


def _run(folder: Path, env: dict[str, str], splits: int, *extra: str) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "fan.py", "run", "--quiet", "--n", str(splits), *extra],
        cwd=folder,
        env=env,
        check=True,
    )
    return time.perf_counter() - started


def _floor(folder: Path, env: dict[str, str], splits: int) -> float:
    """Seconds for a bare array of ``splits`` interpreters importing flowkit's worker."""
    script = f"#!/bin/sh\nexec {sys.executable} -c 'import flowkit.worker'\n"
    started = time.perf_counter()
    job = subprocess.run(
        ["sbatch", "--parsable", f"--array=0-{splits - 1}", f"--output={folder}/floor_%a.out"],
        input=script,
        text=True,
        env=env,
        check=True,
        capture_output=True,
    ).stdout.strip()
    while True:
        states = subprocess.run(
            ["squeue", f"--jobs={job}", "--array", "--states=all", "--noheader", "-o", "%T"],
            env=env,
            text=True,
            capture_output=True,
            check=True,
        ).stdout.split()
        if len(states) >= splits and all(s == "COMPLETED" for s in states):
            return time.perf_counter() - started
        failed = set(states) - {"PENDING", "RUNNING", "COMPLETING", "COMPLETED"}
        if failed:
            raise RuntimeError(f"the bare array's jobs ended {', '.join(sorted(failed))}")
        time.sleep(0.1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--splits", type=int, default=200)
    parser.add_argument(
        "--max-workers", type=int, default=0, help="also throttle the array (%%N); 0: do not"
    )
    args = parser.parse_args()
    sys.path.insert(0, str(SLURM_TESTS))
    from slurmcluster import running  # the tests' own cluster, started the same way

    with tempfile.TemporaryDirectory() as tmp, running(Path(tmp) / "cluster") as cluster:
        folder = Path(tmp)
        (folder / "fan.py").write_text(FOREACH)
        log = folder / "calls.txt"
        base = {k: v for k, v in os.environ.items() if not k.startswith("FLOWKIT_")}
        env = {**base, **cluster.env(), "PYTHONPATH": str(ROOT)}
        tasks = args.splits + 3
        local = _run(folder, {**env, "FLOWKIT_STORE": str(folder / "local")}, args.splits)
        print(f"foreach {args.splits}, local: {local:.2f} s ({tasks} tasks)")

        shimmed = {**env, "PATH": f"{_shims(folder, log)}{os.pathsep}{env['PATH']}"}
        throttle = ["--max-workers", str(args.max_workers)] if args.max_workers else []
        slurm_env = {**shimmed, "FLOWKIT_STORE": str(folder / "slurm")}
        on_slurm = _run(folder, slurm_env, args.splits, "--with", "slurm", *throttle)
        calls = _calls(log)
        overhead = (on_slurm - local) / tasks
        print(f"foreach {args.splits}, --with slurm: {on_slurm:.2f} s")
        print(f"  overhead per task against local: {overhead * 1000:.0f} ms")
        print(f"  Slurm commands: {sum(calls.values())} in all")
        for name in COMMANDS:
            print(f"    {name:9s} {calls[name]:5d}  ({calls[name] / tasks:.3f} per task)")

        floor = _floor(folder, env, args.splits)
        print(f"floor: a bare array of {args.splits} interpreters importing flowkit.worker: ")
        print(f"  {floor:.2f} s ({floor / args.splits * 1000:.0f} ms per element)")


if __name__ == "__main__":
    main()
