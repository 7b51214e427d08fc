"""Running the scenarios under both tools alternately and reducing repetitions to medians."""

from __future__ import annotations

import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from benchmarks import flows
from benchmarks.measure import StoreSize
from benchmarks.scenarios import Context, Sample, Scenario, Sizes
from benchmarks.tools import Tool


@dataclass
class Row:
    """Every sample of one table row, per tool, in the order they were taken."""

    name: str
    label: str
    scenario: str
    samples: dict[str, list[Sample]] = field(default_factory=dict)

    def has(self, tool: str) -> bool:
        """Whether ``tool`` ran this row (a flowkit-only scenario leaves the others out)."""
        return bool(self.samples.get(tool))

    def median_seconds(self, tool: str) -> float:
        return statistics.median(s.seconds for s in self.samples[tool])

    def median_cpu(self, tool: str) -> float:
        return statistics.median(s.cpu_seconds for s in self.samples[tool])

    @property
    def tasks(self) -> int | None:
        """How many tasks each run of a fan-out ran (None for other rows)."""
        counts = {s.tasks for samples in self.samples.values() for s in samples}
        return counts.pop() if len(counts) == 1 else None

    def baselines(self, tool: str) -> list[Sample]:
        """The plain Python runs measured alongside ``tool``'s (none for most rows)."""
        return [s.baseline for s in self.samples.get(tool, []) if s.baseline is not None]

    def median_overhead(self, tool: str) -> tuple[float, float] | None:
        """``tool``'s time over plain Python's, wall and CPU: each run less the plain run
        made just before it, median of those; None for a row without a baseline."""
        pairs = [(s, s.baseline) for s in self.samples.get(tool, []) if s.baseline is not None]
        if not pairs:
            return None
        wall = statistics.median(s.seconds - b.seconds for s, b in pairs)
        cpu = statistics.median(s.cpu_seconds - b.cpu_seconds for s, b in pairs)
        return wall, cpu

    def median_peak(self, tool: str) -> int:
        return int(statistics.median(s.peak_rss for s in self.samples[tool]))

    def median_written(self, tool: str) -> StoreSize:
        """The sample with the median total bytes (keeps data and metadata consistent)."""
        ordered = sorted(self.samples[tool], key=lambda s: s.written.bytes)
        return ordered[(len(ordered) - 1) // 2].written


def warm_up(contexts: list[Context]) -> None:
    """One untimed hello per tool: bytecode written, files in the page cache."""
    for ctx in contexts:
        folder = ctx.fresh("warm-up")
        ctx.run(folder, ctx.flow(folder, "hello_flow.py", flows.HELLO))


def run_all(
    scenarios: list[Scenario],
    tools: list[Tool],
    *,
    scratch: Path,
    sizes: Sizes,
    repeat: int,
    repeat_big: int,
    warm: bool = True,
    log: TextIO = sys.stderr,
) -> list[Row]:
    """Run each scenario ``repeat`` times (``repeat_big`` for big ones), tools alternating;
    with ``warm``, after :func:`warm_up` (a quick run, whose times mean nothing, skips it)."""
    contexts = [Context(tool, scratch / tool.name, sizes) for tool in tools]
    if warm:
        warm_up(contexts)
    rows: list[Row] = []
    for scenario in scenarios:
        labels = scenario.labels(sizes)
        mine = {name: Row(name, label, scenario.name) for name, label in labels.items()}
        times = min(repeat, repeat_big) if scenario.big else repeat
        for attempt in range(times):
            for ctx in contexts:
                if scenario.only is not None and ctx.tool.name not in scenario.only:
                    continue
                for name, sample in scenario.run(ctx).items():
                    mine[name].samples.setdefault(ctx.tool.name, []).append(sample)
                    print(
                        f"  {name:<16} {ctx.tool.name:<9} #{attempt + 1}: "
                        f"{sample.seconds:8.3f} s  CPU {sample.cpu_seconds:8.3f} s  "
                        f"peak {sample.peak_rss / 2**20:7.0f} MiB",
                        file=log,
                        flush=True,
                    )
        rows.extend(mine.values())
    return rows
