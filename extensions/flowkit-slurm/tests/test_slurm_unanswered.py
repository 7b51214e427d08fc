"""A controller that answers late or refuses: sbatch's job is found by its token rather than
submitted twice, and a cancel that did not happen is not taken for one. Slow or failing
commands are shims on PATH in front of the real ones."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from slurmcluster import SlurmCluster

import flowkit_slurm.commands as commands
from flowkit_slurm.commands import Slurm, SlurmError


def _shim(folder: Path, name: str, body: str) -> None:
    folder.mkdir(exist_ok=True)
    real = shutil.which(name)
    assert real is not None
    path = folder / name
    path.write_text(f"#!/bin/sh\n{body.replace('REAL', real)}\n")
    path.chmod(0o755)


def _slurm(env: dict[str, str], shims: Path) -> Slurm:
    return Slurm({**os.environ, **env, "PATH": f"{shims}{os.pathsep}{os.environ['PATH']}"})


@pytest.mark.slow
def test_an_sbatch_that_answers_late_is_not_submitted_twice(
    slurm_cluster: SlurmCluster,
    slurm_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(commands, "SUBMIT_TIMEOUT", 2.0)
    shims = tmp_path / "shims"
    # the controller takes the job, but its answer comes after the timeout
    _shim(shims, "sbatch", 'REAL "$@"\nsleep 10')
    slurm = _slurm(slurm_env, shims)
    name = f"late-{tmp_path.name}"
    job = slurm.submit(["--output=/dev/null"], "#!/bin/sh\ntrue\n", name=name)
    listed = slurm_cluster.command(
        "squeue", f"--name={name}", "--states=all", "--noheader", "-o", "%F"
    ).stdout.split()
    assert listed == [job]  # the one job sbatch made, found by its token


@pytest.mark.slow
def test_an_sbatch_that_never_answers_and_took_nothing_is_an_error(
    slurm_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(commands, "SUBMIT_TIMEOUT", 1.0)
    shims = tmp_path / "shims"
    _shim(shims, "sbatch", "sleep 10")
    with pytest.raises(SlurmError, match="'sbatch' got no answer from the Slurm controller"):
        _slurm(slurm_env, shims).submit([], "#!/bin/sh\ntrue\n", name="never")


def test_a_cancel_the_controller_refused_is_not_taken_for_done(
    slurm_cluster: SlurmCluster, slurm_env: dict[str, str], tmp_path: Path
) -> None:
    shims = tmp_path / "shims"
    _shim(shims, "scancel", 'echo "scancel: error: Unable to contact slurm controller" >&2\nexit 8')
    assert _slurm(slurm_env, shims).cancel(["123"]) is False
    # a job that already ended is no error
    real = Slurm()
    job = real.submit(["--output=/dev/null"], "#!/bin/sh\ntrue\n", name=f"done-{tmp_path.name}")
    slurm_cluster.command("scancel", job)
    assert real.cancel([job]) is True
    assert real.cancel(["999999"]) is True  # Slurm never knew it, or forgot it
