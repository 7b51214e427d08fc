"""``flowkit scheduler`` as a user runs it, on the real clock: a per-minute schedule fires
once, and SIGTERM stops the scheduler cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flowkit.deploy.register import deploy, publish_event
from flowkit.store import LocalBackend, Store
from tests.conftest import ROOT
from tests.deploy.conftest import FLOWS


@pytest.mark.slow  # waits for the next minute to begin: up to 60 s
def test_a_per_minute_schedule_fires_once(tmp_path: Path) -> None:
    store = Store(LocalBackend(tmp_path / "store", durable=False))
    deploy(FLOWS / "more_flows.py", flow_name="MinuteFlow", store=store)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    scheduler = subprocess.Popen(
        [sys.executable, "-m", "flowkit", "scheduler", "--poll", "1", "--store", store.url],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline and scheduler.poll() is None:
            ended = [
                r
                for r in store.records.list_runs("MinuteFlow")
                if store.records.get_run_end("MinuteFlow", r) is not None
            ]
            if ended:
                break
            time.sleep(0.5)
        scheduler.send_signal(signal.SIGTERM)
        output, _ = scheduler.communicate(timeout=60)
    finally:
        if scheduler.poll() is None:
            scheduler.kill()
    assert scheduler.returncode == 0, output
    (run_id,) = store.records.list_runs("MinuteFlow")
    assert store.records.get_run_end("MinuteFlow", run_id).status == "succeeded"  # type: ignore[union-attr]
    assert "MinuteFlow: schedule" in output and "starting a run" in output
    # its last line: stopped (the run's process may still be exiting: "1 run(s) ... go on")
    assert " stopped" in output.rstrip().splitlines()[-1], output


@pytest.mark.slow  # two scheduler processes and a run
def test_two_scheduler_processes_start_one_run_for_an_event(tmp_path: Path) -> None:
    store = Store(LocalBackend(tmp_path / "store", durable=False))
    deploy(FLOWS / "chain_flows.py", flow_name="Retrain", store=store)
    publish_event("drift_detected", {"drift": 0.2}, store=store)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "flowkit", "scheduler", "--once", "--wait"]
    racers = [
        subprocess.Popen(
            [*command, "--store", store.url],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        for _ in range(2)
    ]
    outputs = [racer.communicate(timeout=120)[0] for racer in racers]
    assert [racer.returncode for racer in racers] == [0, 0], outputs
    assert sum("starting a run" in output for output in outputs) == 1, outputs
    (run_id,) = store.records.list_runs("Retrain")
    assert store.records.get_run_end("Retrain", run_id).status == "succeeded"  # type: ignore[union-attr]
