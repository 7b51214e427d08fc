"""A run that failed locally resumes on Slurm: the tasks it clones are no jobs, the rest are,
and the values are right; ``run --reuse --with slurm`` runs as jobs only what it cannot
reuse."""

from __future__ import annotations

from pathlib import Path

import pytest
from slurm_jobs import ended_jobs, python, user_env
from slurmcluster import SlurmCluster
from tests.runtime.test_shapes import Quiet

import flowkit
from flowkit.store import open_store

FLOW = """\
import os
from pathlib import Path
from flowkit import FlowSpec, Parameter, step


class MendFlow(FlowSpec):
    scale = Parameter("scale", default=1)

    @step
    def start(self):
        self.items = [1, 2, 3]
        self.next(self.work, foreach="items")

    @step
    def work(self):
        if self.input == 3 and not Path(os.environ["FIXED"]).exists():
            raise RuntimeError("item 3 is broken")
        self.square = self.input * self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.square for i in inputs) * self.scale
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    MendFlow()
"""


@pytest.mark.slow
def test_a_run_that_failed_locally_resumes_on_slurm_and_reuses_there(
    slurm_env: dict[str, str],
    slurm_cluster: SlurmCluster,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    flow, store, fixed = tmp_path / "flow.py", tmp_path / "store", tmp_path / "fixed"
    flow.write_text(FLOW)
    env = user_env(slurm_cluster, tmp_path, FIXED=str(fixed))
    for name in ("FIXED", "XDG_CACHE_HOME"):
        monkeypatch.setenv(name, env[name])

    failed = python(env, flow, "run", "--store", store)  # locally
    assert failed.returncode == 1 and "RuntimeError: item 3 is broken" in failed.stderr
    records = open_store(str(store)).records
    (origin,) = records.list_runs("MendFlow")

    assert ended_jobs(slurm_cluster, "MendFlow", origin) == {}

    fixed.touch()
    resumed = python(env, flow, "resume", "--with", "slurm", "--store", store)
    assert resumed.returncode == 0, resumed.stderr
    assert "6 tasks (3 done, 3 cloned)" in resumed.stderr
    run = flowkit.Flow("MendFlow", store=str(store)).latest_run
    assert run is not None and run.origin_run_id == origin and run.successful
    assert run["join"].task.data.total == 1 + 4 + 9
    assert _cloned(run) == {("start", ()), ("work", (0,)), ("work", (1,))}
    # what was cloned ran no job; the fixed task, the join and the end ran one each
    jobs = ended_jobs(slurm_cluster, "MendFlow", run.id)
    assert {step: [(j.index, j.state) for j in found] for step, found in jobs.items()} == {
        step: [(None, "COMPLETED")] for step in ("work", "join", "end")
    }

    # the same run, on a new scale that only the join reads: the rest is reused, not run
    again = flowkit.run(
        str(flow),
        store=str(store),
        reuse=True,
        with_decorators=["slurm"],
        progress=Quiet(),
        scale=2,
    )
    assert again.successful and again["join"].task.data.total == (1 + 4 + 9) * 2
    actions = sorted((d["step"], d["action"]) for d in again.explanation)
    assert (
        actions
        == [("end", "run"), ("join", "run")] + [("start", "reuse")] + [("work", "reuse")] * 3
    )
    assert sorted(ended_jobs(slurm_cluster, "MendFlow", again.id)) == ["end", "join"]


def _cloned(run: flowkit.Run) -> set[tuple[str, tuple[int, ...]]]:
    """(step, foreach position) of each task the run took from another run."""
    return {
        (step.id, task.record.foreach)
        for step in run
        for task in step
        if task.record.origin_pathspec is not None
    }
