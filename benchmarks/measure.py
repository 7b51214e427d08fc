"""Measuring one command: wall time, CPU time and peak memory of its process tree, and a
store's size."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

SAMPLE_EVERY_S = 0.02


class CommandFailed(RuntimeError):
    """A benchmarked command exited with an unexpected status; carries its log's tail."""


@dataclass(frozen=True)
class Measured:
    """One command's wall time, CPU time (user + system) and peak RSS (both summed over its
    process tree) and exit status."""

    seconds: float
    peak_rss: int
    returncode: int
    cpu_seconds: float


def _tree_rss(root: psutil.Process) -> int:
    total = 0
    try:
        processes = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    for process in processes:
        try:
            total += process.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total


def run_measured(
    argv: Sequence[str | Path],
    *,
    env: Mapping[str, str],
    cwd: Path,
    log: Path,
    expect_failure: bool = False,
) -> Measured:
    """Run ``argv`` to completion, sampling its whole process tree's RSS every 20 ms (POSIX).

    Summed RSS counts pages shared between processes (forked workers) more than once, so it
    errs high for a tool that forks; it is what ``top`` would add up.
    """
    with log.open("wb") as out:
        started = time.perf_counter()
        child = subprocess.Popen(
            [str(a) for a in argv], cwd=cwd, env=dict(env), stdout=out, stderr=subprocess.STDOUT
        )
        peak = [0]
        done = threading.Event()

        def sample() -> None:
            process = psutil.Process(child.pid)
            while not done.is_set():
                peak[0] = max(peak[0], _tree_rss(process))
                done.wait(SAMPLE_EVERY_S)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        # wait4's usage covers the child and every descendant waited for below it (a fork
        # server's tasks, a scheduler's workers): CPU time is the whole tree's, which a
        # loaded machine inflates far less than wall time. Its ru_maxrss is the largest
        # single process: a floor for commands too short for the sampler to catch at peak.
        _pid, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        returncode = child.returncode = os.waitstatus_to_exitcode(status)
        done.set()
        sampler.join()
    if (returncode != 0) != expect_failure:
        tail = log.read_text(errors="replace")[-3000:]
        raise CommandFailed(f"{' '.join(map(str, argv))} exited with {returncode}:\n{tail}")
    peak_rss = max(peak[0], usage.ru_maxrss * 1024)  # Linux reports KiB
    cpu = usage.ru_utime + usage.ru_stime
    return Measured(seconds=seconds, peak_rss=peak_rss, returncode=returncode, cpu_seconds=cpu)


@dataclass(frozen=True)
class StoreSize:
    """Bytes (apparent size) and files under a store root, split into data and metadata."""

    data_bytes: int = 0
    data_files: int = 0
    meta_bytes: int = 0
    meta_files: int = 0

    @property
    def bytes(self) -> int:
        return self.data_bytes + self.meta_bytes

    @property
    def files(self) -> int:
        return self.data_files + self.meta_files

    def __sub__(self, other: StoreSize) -> StoreSize:
        return StoreSize(
            self.data_bytes - other.data_bytes,
            self.data_files - other.data_files,
            self.meta_bytes - other.meta_bytes,
            self.meta_files - other.meta_files,
        )


def store_size(root: Path, is_data: Callable[[Path], bool]) -> StoreSize:
    """Walk ``root``; ``is_data`` gets each file's path relative to ``root``."""
    sizes = {True: [0, 0], False: [0, 0]}
    for folder, _dirs, files in os.walk(root):
        for name in files:
            path = Path(folder, name)
            bucket = sizes[is_data(path.relative_to(root))]
            bucket[0] += path.lstat().st_size
            bucket[1] += 1
    return StoreSize(sizes[True][0], sizes[True][1], sizes[False][0], sizes[False][1])
