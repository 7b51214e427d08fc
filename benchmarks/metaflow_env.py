"""The benchmark's virtual environments: each tool runs from an environment of its own,
installed as its users install it (a regular ``pip install``, never an editable one, whose
import hook costs every interpreter ~18 ms at start), created on first use and reused.

- Metaflow (and numpy) at ``.bench/metaflow-venv``.
- flowkit at ``.bench/flowkit-venv``: this tree installed with its dependencies and numpy;
  the benchmark puts the tree (or ``--flowkit-path``) first on ``PYTHONPATH``, so the code
  measured is the tree's as it is now, without reinstalling. Made again when
  ``pyproject.toml`` changes.

Run as a script (``scripts/install-test-services.sh`` does), it makes both.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import venv
from pathlib import Path
from typing import TextIO

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".bench" / "metaflow-venv"
FLOWKIT_VENV = ROOT / ".bench" / "flowkit-venv"
EXTRA = ("numpy",)  # scenario 4 makes a numpy array
_PROBE = "import metaflow, numpy; print(metaflow.__version__)"
_FLOWKIT_PROBE = "import click, cloudpickle, numpy; print('ok')"


class MetaflowUnavailable(RuntimeError):
    """An environment could not be made (no network to PyPI, or pip failed)."""


def python(where: Path = VENV) -> Path:
    return where / "bin" / "python"


def installed_version(where: Path = VENV, probe: str = _PROBE) -> str | None:
    """What ``probe`` prints in the environment at ``where`` (Metaflow's version), or None
    when it is not usable."""
    if not python(where).exists():
        return None
    done = subprocess.run([python(where), "-c", probe], capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else None


def ensure(where: Path = VENV, *, spec: str = "metaflow", log: TextIO = sys.stderr) -> str:
    """Return Metaflow's version at ``where``, creating the environment when needed."""
    return _ensure(where, [spec, *EXTRA], _PROBE, log=log)


def ensure_flowkit(where: Path = FLOWKIT_VENV, *, log: TextIO = sys.stderr) -> Path:
    """The interpreter of flowkit's benchmark environment, made when missing or stale."""
    stamp = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    made_from = where / "pyproject.sha256"  # the pyproject.toml it was made from
    current = made_from.exists() and made_from.read_text() == stamp
    if not current or installed_version(where, _FLOWKIT_PROBE) != "ok":
        _ensure(where, [str(ROOT), *EXTRA], _FLOWKIT_PROBE, log=log, fresh=True)
        made_from.write_text(stamp)
    return python(where)


def _ensure(
    where: Path, packages: list[str], probe: str, *, log: TextIO, fresh: bool = False
) -> str:
    version = None if fresh else installed_version(where, probe)
    if version is not None:
        return version
    print(f"installing {' '.join(packages)} into {where} (first run only)...", file=log, flush=True)
    if fresh or not python(where).exists():
        venv.EnvBuilder(with_pip=True, clear=True).create(where)
    command = [python(where), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    command += ["--retries", "2", "--timeout", "20", *packages]  # fail fast with no network
    try:
        pip = subprocess.run(command, capture_output=True, text=True, timeout=600)
    except subprocess.TimeoutExpired as exc:
        raise MetaflowUnavailable(f"pip install {' '.join(packages)} timed out") from exc
    version = installed_version(where, probe)
    if pip.returncode != 0 or version is None:
        raise MetaflowUnavailable(
            f"pip install {' '.join(packages)} into {where} failed "
            f"(exit {pip.returncode}):\n{pip.stderr[-2000:]}"
        )
    return version


if __name__ == "__main__":  # scripts/install-test-services.sh: ahead of the test suite
    try:
        print(f"Metaflow {ensure()} in {VENV}; flowkit in {ensure_flowkit().parent.parent}")
    except MetaflowUnavailable as exc:
        sys.exit(f"benchmarks/metaflow_env.py: {exc}")
