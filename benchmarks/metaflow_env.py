"""Metaflow's own virtual environment: created on first use, reused afterwards.

It lives at ``.bench/metaflow-venv`` (git-ignored) and never shares a package with flowkit's
environment, so each tool imports only what its users would install.
"""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path
from typing import TextIO

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".bench" / "metaflow-venv"
EXTRA = ("numpy",)  # scenario 4 makes a numpy array
_PROBE = "import metaflow, numpy; print(metaflow.__version__)"


class MetaflowUnavailable(RuntimeError):
    """Metaflow could not be installed (no network to PyPI, or pip failed)."""


def python(where: Path = VENV) -> Path:
    return where / "bin" / "python"


def installed_version(where: Path = VENV) -> str | None:
    """Metaflow's version in the environment at ``where``, or None when it is not usable."""
    if not python(where).exists():
        return None
    probe = subprocess.run([python(where), "-c", _PROBE], capture_output=True, text=True)
    return probe.stdout.strip() if probe.returncode == 0 else None


def ensure(where: Path = VENV, *, spec: str = "metaflow", log: TextIO = sys.stderr) -> str:
    """Return Metaflow's version at ``where``, creating the environment when needed."""
    version = installed_version(where)
    if version is not None:
        return version
    print(f"installing {spec} and numpy into {where} (first run only)...", file=log, flush=True)
    if not python(where).exists():
        venv.EnvBuilder(with_pip=True, clear=True).create(where)
    packages = [spec, *EXTRA]
    command = [python(where), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    command += ["--retries", "2", "--timeout", "20", *packages]  # fail fast with no network
    try:
        pip = subprocess.run(command, capture_output=True, text=True, timeout=600)
    except subprocess.TimeoutExpired as exc:
        raise MetaflowUnavailable(f"pip install {' '.join(packages)} timed out") from exc
    version = installed_version(where)
    if pip.returncode != 0 or version is None:
        raise MetaflowUnavailable(
            f"pip install {' '.join(packages)} into {where} failed "
            f"(exit {pip.returncode}):\n{pip.stderr[-2000:]}"
        )
    return version


if __name__ == "__main__":  # scripts/install-test-services.sh: ahead of the test suite
    try:
        print(f"Metaflow {ensure()} in {VENV}")
    except MetaflowUnavailable as exc:
        sys.exit(f"benchmarks/metaflow_env.py: {exc}")
