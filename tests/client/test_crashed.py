"""A run whose scheduler died (its lease ran out, no end record) reads as crashed in the
client, ``flowkit runs``, ``show`` and ``logs --follow``; a run that ended never does."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from flowkit.cli.main import cli
from flowkit.client import Flow, Run
from flowkit.client.display import run_html
from flowkit.store import LocalBackend, RunRecord, Store
from flowkit.store.layout import lease_key
from flowkit.store.lease import Lease
from flowkit.testing import FakeTask, write_fake_run

FLOW = "TrainFlow"


def _lapse(store: Store, run: RunRecord, seconds_ago: float) -> float:
    """Leave the lease a scheduler last wrote ``seconds_ago``, as a killed one leaves it."""
    beat = time.time() - seconds_ago
    lease = Lease(run.flow, run.run_id, beat, beat + 15.0, "gpu-node-7", 4242)
    store.backend.put(lease_key(run.flow, run.run_id), [lease.to_bytes()])
    return beat


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(LocalBackend(tmp_path / "store", durable=False))


@pytest.fixture
def crashed(store: Store) -> RunRecord:
    run = write_fake_run(store, FLOW, {"start": [FakeTask({"grid": [1]})]}, finish=None)
    store.records.start_task(FLOW, run.run_id, "train", attempt=0)  # it never finished
    _lapse(store, run, 60)
    return run


def _invoke(store: Store, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, [*args, "--store", store.url])
    return result.exit_code, result.stdout, result.stderr


def test_the_client_says_crashed(store: Store, crashed: RunRecord) -> None:
    run = Run(f"{FLOW}/{crashed.run_id}", store=store)
    assert run.status == "crashed"
    assert not run.finished and run.finished_at is None and not run.successful
    beat = store.leases.get(FLOW, crashed.run_id)
    assert beat is not None and beat.host == "gpu-node-7"
    assert run.heartbeat_at == datetime.fromtimestamp(beat.written_at, tz=UTC)
    assert 55 < time.time() - beat.written_at < 65
    assert Flow(FLOW, store=store).latest_run.status == "crashed"  # type: ignore[union-attr]
    assert "crashed" in run_html(run)


def test_runs_and_show_say_crashed(store: Store, crashed: RunRecord) -> None:
    code, out, _ = _invoke(store, "runs", FLOW)
    assert code == 0 and out.splitlines()[1].split()[:2] == [crashed.run_id, "crashed"]
    code, out, _ = _invoke(store, "show", f"{FLOW}/{crashed.run_id}")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == f"run {FLOW}/{crashed.run_id}: crashed"
    assert lines[3].startswith("  heartbeat 20")
    assert lines[4] == (
        "  its scheduler stopped without ending the run (killed, or its machine or kernel "
        f'died); resume it: flowkit.resume({FLOW}, origin_run_id="{crashed.run_id}")'
    )


def test_logs_follow_of_a_task_of_a_crashed_run_ends_with_why(
    store: Store, crashed: RunRecord
) -> None:
    started = time.monotonic()
    code, out, err = _invoke(store, "logs", "--follow", f"{FLOW}/{crashed.run_id}/train")
    assert time.monotonic() - started < 5
    assert code == 1 and out == ""
    task = store.records.list_tasks(FLOW, crashed.run_id, "train")[0]
    assert err.startswith(
        f"error: task {task.pathspec} (attempt 0) never finished: its run crashed; its "
        "scheduler stopped without ending the run"
    )
    assert f'hint: resume the run: flowkit.resume({FLOW}, origin_run_id="{crashed.run_id}")' in err


def test_logs_follow_of_a_finished_task_of_a_crashed_run_just_prints(
    store: Store, crashed: RunRecord
) -> None:
    code, out, _ = _invoke(store, "logs", "--follow", f"{FLOW}/{crashed.run_id}/start")
    assert code == 0 and out == ""


@pytest.mark.parametrize("status", ["succeeded", "failed", "cancelled"])
def test_a_run_that_ended_never_reads_crashed(store: Store, status: str) -> None:
    run = write_fake_run(store, FLOW, {"start": [FakeTask()]}, finish=status)  # type: ignore[arg-type]
    _lapse(store, run, 3600)
    assert Run(f"{FLOW}/{run.run_id}", store=store).status == status
    code, out, _ = _invoke(store, "runs", FLOW)
    assert code == 0 and out.splitlines()[1].split()[:2] == [run.run_id, status]
