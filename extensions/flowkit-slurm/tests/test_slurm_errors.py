"""What a user sees when Slurm cannot run a step: a job that cannot start (a bad
interpreter, a failed ``setup`` line) fails its task with what the job's output file says,
and the run resumes; a request the cluster can never meet stops the run before any job is
submitted, with sbatch's own words and the step's name; no ``sbatch`` at all is one clear
error before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from slurm_jobs import jobs_by_step, python, run_jobs, user_env
from slurmcluster import SlurmCluster
from tests.runtime.test_shapes import Quiet

import flowkit
from flowkit.runtime.api import RunFailed

#: ``start`` runs on Slurm with options of its own; ``end`` takes what --with gives.
TWO_STEPS = """\
from flowkit import FlowSpec, slurm, step


class TwoFlow(FlowSpec):
    @slurm(partition="cpu")
    @step
    def start(self):
        self.x = 41
        self.next(self.end)

    @step
    def end(self):
        self.y = self.x + 1


if __name__ == "__main__":
    TwoFlow()
"""


def _flow(folder: Path, source: str, name: str = "flow.py") -> str:
    path = folder / name
    path.write_text(source)
    return str(path)


@pytest.mark.slow
def test_a_bad_interpreter_fails_the_task_clearly_and_the_run_resumes(
    slurm_cluster: SlurmCluster, slurm_env: dict[str, str], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # Slurm's output files
    flow, store = _flow(tmp_path, TWO_STEPS), str(tmp_path / "store")
    with pytest.raises(RunFailed) as failed:
        flowkit.run(
            flow, store=store, with_decorators=["slurm:python=/nonexistent/python"],
            progress=Quiet(),
        )  # fmt: skip
    run = failed.value.run
    jobs = jobs_by_step(run_jobs(slurm_cluster, "TwoFlow", run.id))
    (end_job,) = jobs["end"]
    assert end_job.state == "FAILED" and jobs["start"][0].state == "COMPLETED"

    end = run["end"].task
    assert not end.successful and not run.successful
    error = str(end.exception)
    assert "/nonexistent/python: No such file or directory" in error, error
    assert f"Slurm job {end_job.job_id} ended before the task started (FAILED" in error, error
    assert "/nonexistent/python: No such file or directory" in str(failed.value)
    # the failed job's output file stays, for whoever looks into it (the error names it)
    output = tmp_path / "cache" / "flowkit" / "slurm" / "TwoFlow" / run.id / f"{end_job.job_id}.out"
    assert str(output) in error and "No such file or directory" in output.read_text()

    resumed = flowkit.resume(flow, store=store, with_decorators=["slurm"], progress=Quiet())
    assert resumed.successful and resumed.origin_run_id == run.id
    assert resumed["end"].task.data.y == 42
    assert resumed["start"].task.origin_pathspec == f"TwoFlow/{run.id}/start/{run['start'].task.id}"
    assert sorted(jobs_by_step(run_jobs(slurm_cluster, "TwoFlow", resumed.id))) == ["end"]


SETUP = """\
from flowkit import FlowSpec, slurm, step


class SetupFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.exits, self.no_module)

    @slurm(setup=["export GOOD=1", "exit 3"])
    @step
    def exits(self):
        self.next(self.join)

    @slurm(setup="module load python/3.11")
    @step
    def no_module(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass
"""


@pytest.mark.slow
def test_a_setup_line_that_fails_fails_the_task_and_is_quoted(
    slurm_cluster: SlurmCluster, slurm_env: dict[str, str], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with pytest.raises(RunFailed) as failed:
        flowkit.run(_flow(tmp_path, SETUP), store=str(tmp_path / "store"), progress=Quiet())
    run = failed.value.run
    exits, no_module = run["exits"].task, run["no_module"].task
    assert not exits.successful and not no_module.successful
    said = str(exits.exception)
    assert "flowkit-slurm: the setup line failed: exit 3" in said, said
    assert exits.exit_code == 3
    said = str(no_module.exception)
    assert "module: command not found" in said, said
    assert "flowkit-slurm: the setup line failed: module load python/3.11" in said, said
    assert "join" not in run  # nothing ran after them


REFUSED = """\
from flowkit import FlowSpec, resources, slurm, step


class RefusedFlow(FlowSpec):
    @resources({resources})
    @slurm({options})
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
"""


@pytest.mark.parametrize(
    ("resources", "options", "words"),
    [
        ("", 'partition="nope"', "Invalid partition name specified"),
        ("gpu=5", "", "Requested node configuration is not available"),
        ("gpu=1", 'gpu_type="a100"', "Requested node configuration is not available"),
        ("", "bogus=1", "@slurm has no option 'bogus'"),
        ("", 'output_dir="/proc/nope/out"', "Slurm's output files cannot go to /proc/nope/out"),
    ],
)
def test_a_request_the_cluster_cannot_meet_stops_the_run_before_any_job(
    slurm_cluster: SlurmCluster, slurm_env: dict[str, str], tmp_path: Path,
    resources: str, options: str, words: str,
) -> None:  # fmt: skip
    source = REFUSED.format(resources=resources, options=options)
    with pytest.raises(RunFailed) as failed:
        flowkit.run(_flow(tmp_path, source), store=str(tmp_path / "store"), progress=Quiet())
    message = str(failed.value)
    assert "step 'start' cannot run on slurm" in message, message
    assert words in message, message
    run = failed.value.run
    assert not run.successful and list(run) == []
    assert run_jobs(slurm_cluster, "RefusedFlow", run.id) == []


def test_without_sbatch_on_the_path_one_clear_error_before_anything_runs(
    slurm_cluster: SlurmCluster, tmp_path: Path
) -> None:
    flow, store = _flow(tmp_path, TWO_STEPS), str(tmp_path / "store")
    (tmp_path / "bin").mkdir()
    env = user_env(slurm_cluster, tmp_path, PATH=str(tmp_path / "bin"))
    done = python(env, flow, "run", "--with", "slurm", "--store", store)
    assert done.returncode == 1
    assert done.stderr.startswith(
        "error: 'sbatch' is not on this machine's PATH, so no Slurm job can be run from here\n"
    ), done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    runs = list(flowkit.Flow("TwoFlow", store=store))
    assert [list(r) for r in runs] in ([], [[]])  # no task ran (at most a failed, empty run)
