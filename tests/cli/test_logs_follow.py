"""``flowkit logs FLOW/RUN/STEP --follow`` typed right after a run started: the step's task
is not recorded yet (its record appears once it has run a moment), so it waits for it."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from click.testing import CliRunner

import flowkit
from flowkit.cli.main import cli
from tests.flows.start_gated import StartGatedFlow
from tests.runtime.test_shapes import Quiet


def test_follow_waits_for_a_step_whose_task_is_not_recorded_yet(tmp_path: Path) -> None:
    store, gate = tmp_path / "store", tmp_path / "gate"
    ran: list[flowkit.Run] = []
    running = threading.Thread(
        target=lambda: ran.append(
            flowkit.run(StartGatedFlow, store=str(store), progress=Quiet(), gate=str(gate))
        )
    )
    running.start()
    try:
        runs = store / "runs" / "StartGatedFlow"
        deadline = time.monotonic() + 30
        while not list(runs.glob("*/run.json")):
            assert time.monotonic() < deadline, "the run never appeared"
            time.sleep(0.005)
        run_id = next(runs.glob("*/run.json")).parent.name
        assert not list(runs.glob("*/steps/start/*"))  # no record of its task yet
        threading.Timer(1.5, gate.touch).start()  # the task ends a while after
        result = CliRunner().invoke(
            cli, ["logs", f"StartGatedFlow/{run_id}/start", "--follow", "--store", str(store)]
        )
    finally:
        gate.touch()
        running.join()
    assert result.exit_code == 0, result.output
    assert ran and ran[0].successful
