"""The benchmark report: CPU per task for fan-outs, overhead over plain Python, and "-" for a
tool that did not run a row."""

from __future__ import annotations

import json

import pytest

from benchmarks import report
from benchmarks.harness import Row
from benchmarks.measure import StoreSize
from benchmarks.scenarios import FULL, QUICK, SCENARIOS, Sample
from benchmarks.tools import MAX_SPLITS

WRITTEN = StoreSize(data_bytes=100, data_files=1, meta_bytes=50, meta_files=2)


def _sample(seconds: float, cpu: float, **extra: object) -> Sample:
    return Sample(seconds, 2**20, WRITTEN, cpu, **extra)  # type: ignore[arg-type]


def _rows() -> list[Row]:
    huge = Row("foreach-huge", "foreach, 10,000 splits", "foreach-huge")
    huge.samples["flowkit"] = [_sample(50.0, 30.0, tasks=10_003), _sample(60.0, 40.0, tasks=10_003)]
    array = Row("array", "500 MB array", "array")
    plain = [_sample(1.0, 0.8), _sample(1.2, 0.9), _sample(3.0, 2.5)]
    array.samples["flowkit"] = [
        _sample(1.5, 1.0, baseline=plain[0]),
        _sample(1.4, 1.2, baseline=plain[1]),
    ]
    array.samples["metaflow"] = [_sample(9.0, 7.0, baseline=plain[2])]
    return [huge, array]


def test_a_row_a_tool_did_not_run_shows_a_dash_and_no_speedup() -> None:
    huge, _array = _rows()
    text = report.table([huge], ["flowkit", "metaflow"])
    cells = [c.strip() for c in text.splitlines()[2].strip("|").split("|")]
    # scenario, 2 times, speed-up, 2 CPU, 2 peaks, 2 written
    assert cells[1] == "55.0 s" and cells[2] == "-" and cells[3] == "-"
    assert cells[4] == "35.0 s (3.5 ms/task)" and cells[5] == "-"
    assert cells[7] == "-" and cells[9] == "-"
    stores = report.store_table([huge], ["flowkit", "metaflow"]).splitlines()[2]
    assert stores.endswith("| - | - |")


def test_overhead_is_each_run_less_the_plain_run_before_it() -> None:
    _huge, array = _rows()
    assert array.median_overhead("flowkit") == pytest.approx((0.35, 0.25))
    assert array.median_overhead("metaflow") == pytest.approx((6.0, 4.5))
    text = report.overhead_table([_huge, array], ["flowkit", "metaflow"])
    lines = text.splitlines()
    assert len(lines) == 3  # the fan-out has no plain Python baseline: no line
    assert lines[2] == (
        "| 500 MB array | 1.200 s (CPU 0.900 s) | 1.450 s | +0.350 s (CPU +0.250 s) "
        "| 9.000 s | +6.000 s (CPU +4.500 s) |"
    )


def test_an_overhead_below_zero_shows_its_own_sign() -> None:
    array = Row("array", "500 MB array", "array")
    array.samples["flowkit"] = [_sample(1.4, 1.0, baseline=_sample(1.75, 0.9))]
    line = report.overhead_table([array], ["flowkit"]).splitlines()[2]
    assert line.endswith("| 1.400 s | -0.350 s (CPU +0.100 s) |")


def test_json_has_cpu_per_task_overhead_and_leaves_out_what_did_not_run() -> None:
    huge, array = _rows()
    data = json.loads(json.dumps(report.to_json([huge, array], ["flowkit", "metaflow"], {})))
    fan = data["scenarios"]["foreach-huge"]
    assert list(fan["tools"]) == ["flowkit"] and "speedup" not in fan
    assert fan["tools"]["flowkit"]["tasks"] == 10_003
    assert fan["tools"]["flowkit"]["cpu_ms_per_task"] == 35.0 / 10_003 * 1000
    flowkit = data["scenarios"]["array"]["tools"]["flowkit"]
    assert flowkit["overhead"] == pytest.approx({"seconds": 0.35, "cpu_seconds": 0.25})
    assert flowkit["plain_python"]["runs"] == [1.0, 1.2]
    assert data["scenarios"]["array"]["speedup"] == 9.0 / 1.45
    assert data["scenarios"]["store-size"]["tools"] == {
        "flowkit": {"foreach-huge": {**WRITTEN.__dict__, "bytes": 150, "files": 3}},
        "metaflow": {},
    }


def test_the_ten_thousand_split_fan_out_is_flowkit_only_and_left_out_of_a_quick_run() -> None:
    (huge,) = [s for s in SCENARIOS if s.name == "foreach-huge"]
    assert huge.only == ("flowkit",) and huge.full_only and huge.big
    assert huge.labels(FULL) == {"foreach-huge": "foreach, 10,000 splits, 2 workers"}
    assert QUICK.foreach_huge == 0
    assert [s.name for s in SCENARIOS if s.full_only] == ["foreach-huge"]
    assert int(MAX_SPLITS) >= FULL.foreach_huge  # else the run stops at its start step
