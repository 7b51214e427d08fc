"""Metaflow's small helpers for code inside a step: ``parallel_map`` and
``parallel_imap_unordered`` (a function over items in forked processes) and ``profile``
(how long a block took)."""

from __future__ import annotations

import os
import pickle
import tempfile
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from flowkit.errors import FlowkitError

A = TypeVar("A")
R = TypeVar("R")

#: How often finished children are looked for.
_POLL_S = 0.005


class ParallelMapError(FlowkitError):
    """The function given to ``parallel_map`` raised in one of its processes."""


def parallel_imap_unordered(
    func: Callable[[A], R],
    iterable: Iterable[A],
    max_parallel: int | None = None,
    dir: str | None = None,
) -> Iterator[R]:
    """``func`` over each item, each in a forked process (at most ``max_parallel``, the
    CPU count by default, at once), results yielded as they finish. ``func`` need not
    pickle (the children are forks); its results must. ``dir`` holds the temporary files."""
    limit = max_parallel or os.cpu_count() or 1
    items = iter(iterable)
    running: dict[int, str] = {}
    exhausted = False
    while True:
        while not exhausted and len(running) < limit:
            try:
                item = next(items)
            except StopIteration:
                exhausted = True
                break
            running.update([_start(func, item, dir)])
        if not running:
            return
        yield _result(*_wait_one(running))


def _start(func: Callable[[A], R], item: A, folder: str | None) -> tuple[int, str]:
    fd, path = tempfile.mkstemp(prefix="flowkit-pmap-", dir=folder)
    os.close(fd)
    pid = os.fork()
    if pid == 0:  # the child: one result into its file, then gone without cleanup handlers
        code = 1
        try:
            result = func(item)
            with open(path, "wb") as out:
                pickle.dump(result, out, protocol=pickle.HIGHEST_PROTOCOL)
            code = 0
        except BaseException:  # the child reports any failure and exits; the parent raises
            traceback.print_exc()
        finally:
            os._exit(code)
    return pid, path


def _wait_one(running: dict[int, str]) -> tuple[int, str]:
    while True:  # only our own children: a step's process may have others
        for pid in list(running):
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                path = running.pop(pid)
                return os.waitstatus_to_exitcode(status), path
        time.sleep(_POLL_S)


def _result(code: int, path: str) -> R:  # type: ignore[type-var]
    try:
        if code != 0:
            raise ParallelMapError(
                f"parallel_map: the function failed in a child process (exit status {code})",
                "its traceback is printed above, on the step's stderr",
            )
        with open(path, "rb") as saved:
            return pickle.load(saved)  # type: ignore[no-any-return]
    finally:
        os.unlink(path)


def parallel_map(
    func: Callable[[A], R],
    iterable: Iterable[A],
    max_parallel: int | None = None,
    dir: str | None = None,
) -> list[R]:
    """:func:`parallel_imap_unordered`, with the results in the order of the items."""
    indexed = parallel_imap_unordered(
        lambda pair: (pair[0], func(pair[1])), enumerate(iterable), max_parallel, dir
    )
    return [result for _, result in sorted(indexed, key=lambda pair: pair[0])]


@contextmanager
def profile(label: str, stats_dict: dict[str, int] | None = None) -> Iterator[None]:
    """Time the block in milliseconds: printed (``PROFILE: label completed in Nms``), or
    added to ``stats_dict[label]`` when one is given."""
    if stats_dict is None:
        print(f"PROFILE: {label} starting")
    start = time.time()
    yield
    took = int((time.time() - start) * 1000)
    if stats_dict is None:
        print(f"PROFILE: {label} completed in {took}ms")
    else:
        stats_dict[label] = stats_dict.get(label, 0) + took
