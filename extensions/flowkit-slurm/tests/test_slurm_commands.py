"""What needs no cluster of Slurm's commands: the environment they get, a missing command
named, and what a job's state means."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowkit_slurm.commands import ENDED_STATES, WAITING_STATES, JobState, Slurm, SlurmError


def test_an_enclosing_jobs_variables_are_dropped_but_the_clusters_are_kept() -> None:
    environ = {
        "PATH": "/usr/bin",
        "HOME": "/home/u",
        "SLURM_JOB_ID": "41",
        "SLURM_ARRAY_TASK_ID": "3",
        "SLURM_CPUS_PER_TASK": "8",
        "SLURM_CONF": "/etc/slurm/cluster.conf",
        "SLURM_CLUSTERS": "c1",
        "MY_SLURM_NOTE": "kept",
    }
    assert Slurm(environ=environ).env == {
        "PATH": "/usr/bin",
        "HOME": "/home/u",
        "SLURM_CONF": "/etc/slurm/cluster.conf",
        "SLURM_CLUSTERS": "c1",
        "MY_SLURM_NOTE": "kept",
    }


def test_the_environment_defaults_to_this_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLURM_JOB_ID", "41")
    monkeypatch.setenv("SLURM_CONF", "/x.conf")
    env = Slurm().env
    assert "SLURM_JOB_ID" not in env and env["SLURM_CONF"] == "/x.conf"


def _bin(tmp_path: Path, *commands: str) -> str:
    folder = tmp_path / "bin"
    folder.mkdir()
    for name in commands:
        (folder / name).write_text("#!/bin/sh\nexit 0\n")
        (folder / name).chmod(0o755)
    return str(folder)


@pytest.mark.parametrize(
    ("present", "missing"),
    [((), "sbatch"), (("sbatch",), "squeue"), (("sbatch", "squeue"), "scancel")],
)
def test_require_names_the_missing_command(
    tmp_path: Path, present: tuple[str, ...], missing: str
) -> None:
    slurm = Slurm(environ={"PATH": _bin(tmp_path, *present)})
    with pytest.raises(SlurmError) as info:
        slurm.require()
    assert info.value.render() == (
        f"'{missing}' is not on this machine's PATH, so no Slurm job can be run from here\n"
        "    hint: run flowkit where Slurm's commands work (a login node), or install Slurm's "
        "client and point SLURM_CONF at the cluster's slurm.conf"
    )


def test_require_passes_with_every_command(tmp_path: Path) -> None:
    Slurm(environ={"PATH": _bin(tmp_path, "sbatch", "squeue", "scancel")}).require()


def test_a_command_that_is_not_there_says_so_when_run(tmp_path: Path) -> None:
    slurm = Slurm(environ={"PATH": str(tmp_path)})
    with pytest.raises(SlurmError, match="'squeue' is not on this machine's PATH"):
        slurm.states(["1"])
    # nothing to ask about: no command runs (it would raise, as above)
    assert slurm.states([]) == {} and slurm.cancel([]) is True


@pytest.mark.parametrize(
    ("state", "ended", "started"),
    [
        ("PENDING", False, False),
        ("REQUEUED", False, False),
        ("SUSPENDED", False, False),
        ("CONFIGURING", False, True),
        ("RUNNING", False, True),
        ("COMPLETING", False, True),
        ("COMPLETED", True, True),
        ("FAILED", True, True),
        ("CANCELLED", True, True),
        ("TIMEOUT", True, True),
        ("NODE_FAIL", True, True),
        ("OUT_OF_MEMORY", True, True),
        ("PREEMPTED", True, True),
    ],
)
def test_job_states(state: str, ended: bool, started: bool) -> None:
    job = JobState(state, "None")
    assert (job.ended, job.started) == (ended, started)


def test_no_state_is_both_waiting_and_ended() -> None:
    assert not ENDED_STATES & WAITING_STATES
