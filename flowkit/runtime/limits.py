"""Why fewer tasks than ``max_workers`` may run at once on this machine: each step the local
executor runs takes one CPU unless its ``@resources(cpu=...)`` says otherwise, and a task
waits for its CPUs, so ``max_workers=4`` on 2 cores runs 2 at once. Said once, as the run
starts (the views show it), so a user who asked for 4 is not left wondering."""

from __future__ import annotations

import math
import os

from flowkit.authoring.decorators import DecoratorSpec
from flowkit.executor.registry import executor_of
from flowkit.graph.model import FlowGraph
from flowkit.runtime.policy import FailurePolicy


def cpu_limit(
    graph: FlowGraph, policy: FailurePolicy, max_workers: int, cpus: int | None = None
) -> str | None:
    """``max_workers=4, but ...: at most 2 tasks run at once``, or None when this machine's
    CPUs do not hold back any of the run's local steps."""
    cpus = cpus or os.cpu_count() or 1
    local = [n for n in graph.ordered() if executor_of(n, policy.executor) is None]
    if not local or max_workers <= cpus:
        return None
    least = min(_cpu(n.decorator("resources")) for n in local)
    at_once = max_workers if least <= 0 else min(max_workers, math.floor(cpus / least))
    if at_once >= max_workers or _widest(graph) <= at_once:
        return None  # the CPUs allow every task that could run at once
    each = "1 CPU by default" if least == 1 else f"at least {least:g} CPU"
    return (
        f"max_workers={max_workers}, but this machine has {cpus} CPUs and each step takes "
        f"{each}: at most {at_once} tasks run at once (@resources(cpu=0.5) lets two share one)"
    )


def _cpu(resources: DecoratorSpec | None) -> float:
    return float((resources.args.get("cpu") if resources else None) or 1)


def _widest(graph: FlowGraph) -> float:
    """How many tasks of the flow could run at once, at most: unbounded with a foreach, else
    the branches of its splits (a flow without either runs one task at a time)."""
    steps = graph.ordered()
    if any(n.transition == "foreach" for n in steps):
        return math.inf
    return max(1, sum(len(n.targets) for n in steps if n.transition == "split"))
