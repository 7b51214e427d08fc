"""The results as a Markdown table (for the README) and as JSON."""

from __future__ import annotations

import json
import os
import platform
import statistics
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import psutil

from benchmarks.harness import Row
from benchmarks.measure import StoreSize

STORE_ROWS = ("foreach-small", "foreach-large", "foreach-huge")
NAMES = {"flowkit": "flowkit", "metaflow": "Metaflow"}
#: What a tool that did not run a row shows in its cells.
MISSING = "-"


def machine() -> str:
    memory = psutil.virtual_memory().total / 2**30
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, {memory:.0f} GiB, "
        f"Python {platform.python_version()}"
    )


def _seconds(value: float) -> str:
    return f"{value:.3f} s" if abs(value) < 10 else f"{value:.1f} s"


def _bytes(value: int) -> str:
    for unit, size in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if abs(value) >= size:
            return f"{value / size:.1f} {unit}"
    return f"{value} B"


def _written(size: StoreSize) -> str:
    return f"{_bytes(size.bytes)}, {size.files:,} files"


def _both(row: Row, tools: list[str]) -> bool:
    return tools == ["flowkit", "metaflow"] and row.has("flowkit") and row.has("metaflow")


def _speedup(row: Row, tools: list[str]) -> str:
    if not _both(row, tools):
        return MISSING
    return f"{row.median_seconds('metaflow') / row.median_seconds('flowkit'):.1f}x"


def _cpu(row: Row, tool: str) -> str:
    """Median CPU time of the process tree, and per task for a fan-out."""
    cpu = row.median_cpu(tool)
    if row.tasks:
        return f"{_seconds(cpu)} ({cpu / row.tasks * 1000:.1f} ms/task)"
    return _seconds(cpu)


def _cells(row: Row, tools: list[str], cell: Callable[[Row, str], str]) -> list[str]:
    return [cell(row, t) if row.has(t) else MISSING for t in tools]


def _time(row: Row, tool: str) -> str:
    return _seconds(row.median_seconds(tool))


def _peak(row: Row, tool: str) -> str:
    return f"{row.median_peak(tool) / 2**20:,.0f} MiB"


def _written_cell(row: Row, tool: str) -> str:
    return _written(row.median_written(tool))


def table(rows: list[Row], tools: list[str]) -> str:
    """Medians: time, speed-up (Metaflow time / flowkit time), CPU time, peak RSS, bytes
    written; "-" where a tool did not run the row."""
    head = ["scenario"]
    head += [NAMES[t] for t in tools] + ["speed-up"]
    head += [f"CPU {NAMES[t]}" for t in tools]
    head += [f"peak RSS {NAMES[t]}" for t in tools]
    head += [f"written {NAMES[t]}" for t in tools]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        cells = [row.label]
        cells += _cells(row, tools, _time)
        cells += [_speedup(row, tools)]
        cells += _cells(row, tools, _cpu)
        cells += _cells(row, tools, _peak)
        cells += _cells(row, tools, _written_cell)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def store_table(rows: list[Row], tools: list[str]) -> str:
    """Scenario 7: a fan-out's store on disk, artifact data apart from metadata and logs."""
    head = ["store after one run of"]
    for t in tools:
        head += [f"{NAMES[t]} data", f"{NAMES[t]} metadata"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        if row.name not in STORE_ROWS:
            continue
        cells = [row.label]
        for t in tools:
            if not row.has(t):
                cells += [MISSING, MISSING]
                continue
            size = row.median_written(t)
            cells += [
                f"{_bytes(size.data_bytes)}, {size.data_files:,} files",
                f"{_bytes(size.meta_bytes)}, {size.meta_files:,} files",
            ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _overhead(row: Row, tool: str) -> str:
    found = row.median_overhead(tool)
    if found is None:
        return MISSING
    wall, cpu = found
    return f"{_signed(wall)} (CPU {_signed(cpu)})"


def _signed(value: float) -> str:
    """A difference with its sign: with few runs, noise in the plain runs can put one below
    zero."""
    return ("+" if value >= 0 else "") + _seconds(value)


def overhead_table(rows: list[Row], tools: list[str]) -> str:
    """Rows measured against the same work in plain Python: each tool's time over it (each
    run less the plain run made just before it; medians)."""
    head = ["scenario", "plain Python"]
    for t in tools:
        head += [NAMES[t], f"{NAMES[t]} over plain Python"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        plain = [b for t in tools for b in row.baselines(t)]
        if not plain:
            continue
        wall = statistics.median(b.seconds for b in plain)
        cpu = statistics.median(b.cpu_seconds for b in plain)
        cells = [row.label, f"{_seconds(wall)} (CPU {_seconds(cpu)})"]
        for t in tools:
            cells += [_time(row, t) if row.has(t) else MISSING, _overhead(row, t)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _written_json(size: StoreSize) -> dict[str, int]:
    return {**asdict(size), "bytes": size.bytes, "files": size.files}


def _tool_json(row: Row, tool: str) -> dict[str, Any]:
    samples = row.samples[tool]
    entry: dict[str, Any] = {
        "seconds": row.median_seconds(tool),
        "runs": [s.seconds for s in samples],
        "cpu_seconds": row.median_cpu(tool),
        "cpu_runs": [s.cpu_seconds for s in samples],
        "peak_rss": row.median_peak(tool),
        "written": _written_json(row.median_written(tool)),
    }
    if row.tasks:
        entry["tasks"] = row.tasks
        entry["cpu_ms_per_task"] = row.median_cpu(tool) / row.tasks * 1000
    overhead = row.median_overhead(tool)
    if overhead is not None:
        plain = row.baselines(tool)
        entry["plain_python"] = {
            "seconds": statistics.median(b.seconds for b in plain),
            "cpu_seconds": statistics.median(b.cpu_seconds for b in plain),
            "runs": [b.seconds for b in plain],
        }
        entry["overhead"] = {"seconds": overhead[0], "cpu_seconds": overhead[1]}
    return entry


def to_json(rows: list[Row], tools: list[str], meta: dict[str, Any]) -> dict[str, Any]:
    scenarios: dict[str, Any] = {}
    for row in rows:
        entry: dict[str, Any] = {"label": row.label, "scenario": row.scenario, "tools": {}}
        for t in tools:
            if row.has(t):
                entry["tools"][t] = _tool_json(row, t)
        if _both(row, tools):
            entry["speedup"] = row.median_seconds("metaflow") / row.median_seconds("flowkit")
        scenarios[row.name] = entry
    store = {
        t: {
            row.name: _written_json(row.median_written(t))
            for row in rows
            if row.name in STORE_ROWS and row.has(t)
        }
        for t in tools
    }
    if any(store.values()):
        scenarios["store-size"] = {"label": "store size after the fan-outs", "tools": store}
    return {**meta, "machine": machine(), "scenarios": scenarios}


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")
