"""Many processes writing runs and task records at once need no locks and lose nothing."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from flowkit.store import LocalBackend, Store

RUNS_PER_PROCESS = 5
TASKS_PER_RUN = 6


def _writer(root: str, worker: int) -> list[tuple[str, list[str]]]:
    store = Store(LocalBackend(root))
    made = []
    for _ in range(RUNS_PER_PROCESS):
        run = store.records.create_run("RaceFlow", parameters={"worker": worker})
        task_ids = []
        for i in range(TASKS_PER_RUN):
            start = store.records.start_task("RaceFlow", run.run_id, "train", foreach=(i,))
            ref = store.values.put({"worker": worker, "i": i})
            store.records.finish_task(start.finished("succeeded", artifacts={"out": ref}))
            task_ids.append(start.task_id)
        store.records.end_run("RaceFlow", run.run_id, "succeeded")
        made.append((run.run_id, task_ids))
    return made


def test_eight_processes_write_runs_and_tasks_at_once(tmp_path: Path) -> None:
    root = str(tmp_path / "store")
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(8) as pool:
        results = pool.starmap(_writer, [(root, w) for w in range(8)])
    made = dict(run for worker in results for run in worker)
    run_ids = [run_id for worker in results for run_id, _ in worker]
    task_ids = [t for worker in results for _, tasks in worker for t in tasks]
    assert len(set(run_ids)) == len(run_ids) == 8 * RUNS_PER_PROCESS
    assert len(set(task_ids)) == len(task_ids) == 8 * RUNS_PER_PROCESS * TASKS_PER_RUN

    store = Store(LocalBackend(root))
    assert store.records.list_runs("RaceFlow") == sorted(run_ids)
    for run in store.records.iter_runs("RaceFlow"):
        assert store.records.get_run_end("RaceFlow", run.run_id) is not None
        tasks = store.records.list_tasks("RaceFlow", run.run_id, "train")
        assert sorted(t.task_id for t in tasks) == sorted(made[run.run_id])
        worker = run.parameters["worker"]
        values = [store.values.load(t.artifacts["out"].digest) for t in tasks]
        assert sorted(v["i"] for v in values) == list(range(TASKS_PER_RUN))
        assert {v["worker"] for v in values} == {worker}
        assert all(t.successful for t in tasks)
