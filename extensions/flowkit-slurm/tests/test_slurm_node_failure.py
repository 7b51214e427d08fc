"""A node failure mid-run: slurmd is killed while a foreach's tasks run on the node, Slurm
ends their jobs as NODE_FAIL, and flowkit retries each lost task as a new attempt once the
node is back. The run succeeds with the right values, each lost attempt has one final
record (``lost``, naming its job and NODE_FAIL), and no task has two successful attempts."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from slurm_jobs import alive, ended_jobs, run_jobs, wait_until
from slurmcluster import SlurmCluster
from tests.runtime.test_shapes import Quiet

import flowkit
from flowkit.store import open_store

FLOW = """\
import os, time
from pathlib import Path
from flowkit import FlowSpec, current, step


class NodeFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2]
        self.next(self.work, foreach="items")

    @step
    def work(self):
        gate = Path(os.environ["GATE"])
        Path(f"{gate}.{self.input}.{current.retry_count}").write_text(str(os.getpid()))
        while current.retry_count == 0 and not gate.exists():
            time.sleep(0.05)
        self.doubled = self.input * 2
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.doubled for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass
"""


@pytest.mark.slow
def test_tasks_lost_with_their_node_are_retried_once_and_the_run_succeeds(
    slurm_env: dict[str, str],
    slurm_cluster: SlurmCluster,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    flow, store, gate = tmp_path / "flow.py", str(tmp_path / "store"), tmp_path / "gate"
    flow.write_text(FLOW)
    monkeypatch.setenv("GATE", str(gate))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    records = open_store(store).records
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(
            flowkit.run, str(flow), store=store, with_decorators=["slurm"], progress=Quiet()
        )
        try:
            run_id = wait_until(lambda: records.list_runs("NodeFlow"), 60, what="the run")[0]
            # both tasks run, and wrote their start records
            wait_until(
                lambda: len(records.attempt_marks("NodeFlow", run_id, "work")) == 2,
                60,
                what="both tasks running",
            )
            old = [int(Path(f"{gate}.{item}.0").read_text()) for item in (1, 2)]
            lost = [
                j.job_id for j in run_jobs(slurm_cluster, "NodeFlow", run_id) if j.step == "work"
            ]

            slurm_cluster.kill_slurmd()
            try:
                wait_until(lambda: _work_states(slurm_cluster, run_id) == {"NODE_FAIL"}, 60)
                # the node is down: its processes run on, unknown to Slurm
                assert all(map(alive, old))
            finally:
                slurm_cluster.start_slurmd()
            # the node's slurmd, back, kills what is left of the jobs Slurm ended: the lost
            # attempts never get to write a record (their gate is still closed)
            wait_until(lambda: not any(map(alive, old)), 30, what="the old attempts' end")
            run = running.result(timeout=120)
        finally:
            gate.touch()  # nothing waits on it now, unless the test failed
    assert run.status == "succeeded"
    assert run["join"].task.data.total == (1 + 2) * 2

    jobs = ended_jobs(slurm_cluster, "NodeFlow", run_id)
    assert [(j.job_id, j.state, j.reason) for j in jobs["work"][:2]] == [
        (job, "NODE_FAIL", "NodeDown") for job in lost
    ]
    retried = jobs["work"][2:]
    assert [(j.index, j.state) for j in retried] == [(0, "COMPLETED"), (1, "COMPLETED")]
    assert retried[0].array_id != jobs["work"][0].array_id  # a new array: new attempts
    assert [len(jobs[step]) for step in ("start", "join", "end")] == [1, 1, 1]

    work = sorted(records.list_tasks("NodeFlow", run_id, "work"), key=lambda r: r.foreach)
    for job, task in zip(lost, work, strict=True):
        attempts = records.task_attempts("NodeFlow", run_id, "work", task.task_id)
        assert [(a.attempt, a.status, a.failure) for a in attempts] == [
            (0, "failed", "lost"),
            (1, "succeeded", None),
        ]
        error = attempts[0].exception
        assert error is not None and error.type == "TaskLost"
        assert error.message.startswith(
            f"Slurm job {job} ended without the task's final record (NODE_FAIL): its node failed"
        )
        assert "CANCELLED AT" in error.message and "DUE TO NODE FAILURE" in error.message
        assert attempts[0].artifacts == {}
    # nothing ran twice into the records: one successful attempt per task, each attempt once
    for step in ("start", "work", "join", "end"):
        for task in records.list_tasks("NodeFlow", run_id, step):
            attempts = records.task_attempts("NodeFlow", run_id, step, task.task_id)
            assert sum(a.successful for a in attempts) == 1, (step, attempts)
    ran = sorted(p.name for p in tmp_path.glob("gate.*"))
    assert ran == ["gate.1.0", "gate.1.1", "gate.2.0", "gate.2.1"]


def _work_states(cluster: SlurmCluster, run_id: str) -> set[str]:
    return {j.state for j in run_jobs(cluster, "NodeFlow", run_id) if j.step == "work"}
