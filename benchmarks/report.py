"""The results as a Markdown table (for the README) and as JSON."""

from __future__ import annotations

import json
import os
import platform
from dataclasses import asdict
from pathlib import Path
from typing import Any

import psutil

from benchmarks.harness import Row
from benchmarks.measure import StoreSize

STORE_ROWS = ("foreach-small", "foreach-large")


def machine() -> str:
    memory = psutil.virtual_memory().total / 2**30
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, {memory:.0f} GiB, "
        f"Python {platform.python_version()}"
    )


def _seconds(value: float) -> str:
    return f"{value:.3f} s" if value < 10 else f"{value:.1f} s"


def _bytes(value: int) -> str:
    for unit, size in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if abs(value) >= size:
            return f"{value / size:.1f} {unit}"
    return f"{value} B"


def _written(size: StoreSize) -> str:
    return f"{_bytes(size.bytes)}, {size.files:,} files"


def _speedup(row: Row, tools: list[str]) -> str:
    if tools != ["flowkit", "metaflow"]:
        return "-"
    return f"{row.median_seconds('metaflow') / row.median_seconds('flowkit'):.1f}x"


def table(rows: list[Row], tools: list[str]) -> str:
    """Medians: time, speed-up (Metaflow time / flowkit time), peak RSS, bytes written."""
    names = {"flowkit": "flowkit", "metaflow": "Metaflow"}
    head = ["scenario"]
    head += [names[t] for t in tools] + ["speed-up"]
    head += [f"peak RSS {names[t]}" for t in tools]
    head += [f"written {names[t]}" for t in tools]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        cells = [row.label]
        cells += [_seconds(row.median_seconds(t)) for t in tools] + [_speedup(row, tools)]
        cells += [f"{row.median_peak(t) / 2**20:,.0f} MiB" for t in tools]
        cells += [_written(row.median_written(t)) for t in tools]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def store_table(rows: list[Row], tools: list[str]) -> str:
    """Scenario 7: a fan-out's store on disk, artifact data apart from metadata and logs."""
    names = {"flowkit": "flowkit", "metaflow": "Metaflow"}
    head = ["store after one run of"]
    for t in tools:
        head += [f"{names[t]} data", f"{names[t]} metadata"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        if row.name not in STORE_ROWS:
            continue
        cells = [row.label]
        for t in tools:
            size = row.median_written(t)
            cells += [
                f"{_bytes(size.data_bytes)}, {size.data_files:,} files",
                f"{_bytes(size.meta_bytes)}, {size.meta_files:,} files",
            ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _written_json(size: StoreSize) -> dict[str, int]:
    return {**asdict(size), "bytes": size.bytes, "files": size.files}


def to_json(rows: list[Row], tools: list[str], meta: dict[str, Any]) -> dict[str, Any]:
    scenarios: dict[str, Any] = {}
    for row in rows:
        entry: dict[str, Any] = {"label": row.label, "scenario": row.scenario, "tools": {}}
        for t in tools:
            entry["tools"][t] = {
                "seconds": row.median_seconds(t),
                "runs": [s.seconds for s in row.samples[t]],
                "peak_rss": row.median_peak(t),
                "written": _written_json(row.median_written(t)),
            }
        if tools == ["flowkit", "metaflow"]:
            entry["speedup"] = row.median_seconds("metaflow") / row.median_seconds("flowkit")
        scenarios[row.name] = entry
    store = {
        t: {
            row.name: _written_json(row.median_written(t)) for row in rows if row.name in STORE_ROWS
        }
        for t in tools
    }
    if any(store.values()):
        scenarios["store-size"] = {"label": "store size after the fan-outs", "tools": store}
    return {**meta, "machine": machine(), "scenarios": scenarios}


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")
