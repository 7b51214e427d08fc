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

    def median_seconds(self, tool: str) -> float:
        return statistics.median(s.seconds for s in self.samples[tool])

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
    log: TextIO = sys.stderr,
) -> list[Row]:
    """Run each scenario ``repeat`` times (``repeat_big`` for big ones), tools alternating."""
    contexts = [Context(tool, scratch / tool.name, sizes) for tool in tools]
    warm_up(contexts)
    rows: list[Row] = []
    for scenario in scenarios:
        labels = scenario.labels(sizes)
        mine = {name: Row(name, label, scenario.name) for name, label in labels.items()}
        times = min(repeat, repeat_big) if scenario.big else repeat
        for attempt in range(times):
            for ctx in contexts:
                for name, sample in scenario.run(ctx).items():
                    mine[name].samples.setdefault(ctx.tool.name, []).append(sample)
                    print(
                        f"  {name:<16} {ctx.tool.name:<9} #{attempt + 1}: "
                        f"{sample.seconds:8.3f} s  peak {sample.peak_rss / 2**20:7.0f} MiB",
                        file=log,
                        flush=True,
                    )
        rows.extend(mine.values())
    return rows
