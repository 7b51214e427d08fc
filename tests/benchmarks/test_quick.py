"""``python -m benchmarks --quick`` runs every scenario under flowkit and Metaflow end to end.

The first run installs Metaflow from PyPI into ``.bench/metaflow-venv`` (20 to 40 s); without
network the test skips, unless FLOWKIT_REQUIRE_SERVICES=1 says it must run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import metaflow_env
from tests.conftest import ROOT

ROWS = [
    "hello",
    "hello-again",
    "linear",
    "foreach-small",
    "foreach-large",
    "array",
    "array-again",
    "resume",
    "client-latest",
    "client-tasks",
    "client-runs",
]
TOOLS = ["flowkit", "metaflow"]


@pytest.fixture(scope="module")
def metaflow_installed() -> str:
    try:
        return metaflow_env.ensure()
    except metaflow_env.MetaflowUnavailable as exc:
        if os.environ.get("FLOWKIT_REQUIRE_SERVICES") == "1":
            pytest.fail(f"Metaflow is required here (FLOWKIT_REQUIRE_SERVICES=1): {exc}")
        pytest.skip(f"Metaflow cannot be installed: {exc}")


@pytest.mark.slow
# the limit covers the fixture too: installing Metaflow into its venv (20-40 s alone, minutes
# on a CI machine busy with three other test workers), then the run of every scenario
@pytest.mark.timeout(480)
def test_quick_run_reports_every_scenario_for_both_tools(
    metaflow_installed: str, tmp_path: Path
) -> None:
    out = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=360,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "| hello, 3 steps |" in done.stdout
    results = json.loads(out.read_text())
    assert results["quick"] is True
    assert results["metaflow_version"] == metaflow_installed
    scenarios = results["scenarios"]
    for row in ROWS:
        for tool in TOOLS:
            measured = scenarios[row]["tools"][tool]
            assert measured["seconds"] > 0, (row, tool)
            assert measured["peak_rss"] > 0, (row, tool)
            assert measured["cpu_seconds"] > 0, (row, tool)
        assert scenarios[row]["speedup"] > 0, row
    assert "foreach-huge" not in scenarios  # the full run's alone
    for tool in TOOLS:
        fanout = scenarios["foreach-large"]["tools"][tool]
        # QUICK's 8 splits, and start, join and end
        assert fanout["tasks"] == 11 and fanout["cpu_ms_per_task"] > 0, tool
        for row in ("array", "array-again"):
            measured = scenarios[row]["tools"][tool]
            plain = measured["plain_python"]
            assert 0 < plain["seconds"] < measured["seconds"], (row, tool)
            assert measured["overhead"]["seconds"] > 0, (row, tool)
    assert "flowkit over plain Python" in done.stdout
    for row in ROWS[:7]:  # everything that runs a flow writes to its store
        for tool in TOOLS:
            assert scenarios[row]["tools"][tool]["written"]["bytes"] > 0, (row, tool)
    for tool in TOOLS:
        for fanout in ("foreach-small", "foreach-large"):
            size = scenarios["store-size"]["tools"][tool][fanout]
            assert size["data_bytes"] > 0 and size["meta_bytes"] > 0, (tool, fanout)
        # both stores are content-addressed: the second identical run adds no array bytes
        first = scenarios["array"]["tools"][tool]["written"]["data_bytes"]
        again = scenarios["array-again"]["tools"][tool]["written"]["data_bytes"]
        assert again < first / 10, (tool, first, again)
