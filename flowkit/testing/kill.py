"""Kill tests: run a Python script that signals when it reached the awkward moment (by
creating a file), then SIGKILL it there."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path


def kill_when_ready(
    script: str, ready: Path, *, env: Mapping[str, str] | None = None, timeout: float = 60
) -> None:
    """Run ``python -c script`` and SIGKILL it as soon as ``ready`` exists; fail if it ends
    first or never gets there within ``timeout`` seconds. ``env`` adds to this environment."""
    proc = subprocess.Popen([sys.executable, "-c", script], env={**os.environ, **(env or {})})
    try:
        deadline = time.monotonic() + timeout
        while not ready.exists():
            if proc.poll() is not None:
                raise AssertionError(f"the script ended (status {proc.returncode}) before {ready}")
            if time.monotonic() > deadline:
                raise AssertionError(f"the script never created {ready} in {timeout:g} s")
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None and not ready.exists():
            proc.kill()
        proc.wait()
    if proc.returncode != -signal.SIGKILL:
        raise AssertionError(f"the script ended with status {proc.returncode}, not by SIGKILL")
