"""``flowkit show FLOW`` draws each step's duration over the flow's latest successful runs:
a sparkline, oldest first, then the median, the 95th percentile and the latest."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from flowkit.cli.main import cli
from flowkit.store import open_store
from flowkit.testing.fake_run import FakeTask, write_fake_run


def _show(store: Path, flow: str) -> str:
    result = CliRunner().invoke(cli, ["show", flow, "--store", str(store)])
    assert result.exit_code == 0, result.output
    return result.output


def test_each_step_s_trend_over_the_latest_successful_runs(tmp_path: Path) -> None:
    store = open_store(str(tmp_path))
    # train takes 10 s, 20 s, ... 80 s; a failed run in between is no history
    for i in range(1, 9):
        steps = {
            "start": [FakeTask(seconds=1.0)],
            "train": [FakeTask(seconds=10.0 * i), FakeTask(seconds=5.0)],
        }
        write_fake_run(store, "TrendFlow", steps)
        if i == 4:
            write_fake_run(store, "TrendFlow", {"start": [FakeTask(seconds=99.0)]}, finish="failed")
    out = _show(tmp_path, "TrendFlow")
    assert "durations over the latest 8 successful runs, oldest first" in out
    rows = {line.split()[0]: line.split() for line in out.splitlines()[-3:]}
    # a step's duration is its first start to its last end: train's longer task
    assert rows["train"][1:] == ["▁▂▃▄▅▆▇█", "45.0s", "1m20s", "1m20s"]
    assert rows["start"][1:] == ["▁▁▁▁▁▁▁▁", "1.00s", "1.00s", "1.00s"]
    assert rows["(run)"][0] == "(run)" and len(rows["(run)"][1]) == 8


def test_a_flow_without_a_successful_run_shows_no_trend(tmp_path: Path) -> None:
    store = open_store(str(tmp_path))
    write_fake_run(store, "NewFlow", {"start": [FakeTask(seconds=1.0)]}, finish="failed")
    out = _show(tmp_path, "NewFlow")
    assert "failed" in out and "durations over" not in out
