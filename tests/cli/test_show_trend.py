"""``flowkit show FLOW`` draws each step's duration over the flow's latest successful runs:
a sparkline, oldest first, then the median, the 95th percentile and the latest."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from flowkit.cli.main import cli
from flowkit.store import open_store
from flowkit.testing.fake_run import FakeTask, write_fake_run, write_task


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
    assert "did not run" not in out  # no gap, no legend


def test_a_flow_without_a_successful_run_shows_no_trend(tmp_path: Path) -> None:
    store = open_store(str(tmp_path))
    write_fake_run(store, "NewFlow", {"start": [FakeTask(seconds=1.0)]}, finish="failed")
    out = _show(tmp_path, "NewFlow")
    assert "failed" in out and "durations over" not in out


def test_a_resumed_run_leaves_a_gap_where_its_step_was_cloned(tmp_path: Path) -> None:
    store = open_store(str(tmp_path))
    seconds = {"start": 1.0, "train": 10.0}
    origin = write_fake_run(
        store, "ResumedFlow", {s: [FakeTask(seconds=v)] for s, v in seconds.items()}
    )
    # a resume that cloned train (it took no time here) and ran start again, 3 s
    resumed = store.records.create_run(
        "ResumedFlow", origin_run_id=origin.run_id, steps=["start", "train"]
    )
    write_task(store, resumed, "start", FakeTask(seconds=3.0))
    for task in store.records.list_tasks("ResumedFlow", origin.run_id, "train"):
        store.records.clone_task(task, resumed.run_id, {})
    store.records.end_run("ResumedFlow", resumed.run_id, "succeeded")
    out = _show(tmp_path, "ResumedFlow")
    table = out[out.index("STEP  ") :].split("\n\n")[0].splitlines()[1:]
    rows = {line.split()[0]: line.split() for line in table}
    # one bar per run on every line, oldest first; train's latest is the resume, where it
    # did not run: its LAST is none, not the older run's
    assert rows["start"][1:] == ["▁█", "2.00s", "3.00s", "3.00s"]
    assert rows["train"][1:] == ["▁·", "10.0s", "10.0s", "-"]
    assert rows["(run)"][1][1] == "·" and rows["(run)"][-1] == "-"
    assert "·: did not run in that run (cloned by a resume" in out


def test_show_run_says_what_passed_its_sla(tmp_path: Path) -> None:
    store = open_store(str(tmp_path))
    run = write_fake_run(store, "LateFlow", {"start": [FakeTask()]}, finish=None)
    missed = ("4 tasks of step start ran past their SLA of 5.00s (set with @sla)",)
    store.records.end_run("LateFlow", run.run_id, "succeeded", sla_missed=missed)
    out = _show(tmp_path, f"LateFlow/{run.run_id}")
    assert f"  sla missed\n    {missed[0]}\n" in out
    on_time = write_fake_run(store, "LateFlow", {"start": [FakeTask()]})
    assert "sla missed" not in _show(tmp_path, f"LateFlow/{on_time.run_id}")
