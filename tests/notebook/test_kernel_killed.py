"""A Jupyter kernel killed mid-run leaves a run that reads as crashed: the scheduler beat
from inside the kernel, and its beats died with it."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from flowkit.client import Run
from flowkit.store import open_store
from tests.conftest import ROOT, require
from tests.notebook.test_interrupt import SLOW_FLOW, _wait_for_running


@pytest.mark.kernel
@pytest.mark.slow
def test_a_killed_kernel_leaves_a_crashed_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require("ipykernel")
    jupyter_client = require("jupyter_client")
    monkeypatch.setenv("FLOWKIT_CLOCK_SKEW_SECONDS", "2")
    env = {**os.environ, "FLOWKIT_HEARTBEAT_SECONDS": "0.5"}
    km, kc = jupyter_client.manager.start_new_kernel(kernel_name="python3", env=env)
    store = str(tmp_path / "store")
    try:
        kc.execute_interactive(
            f"import sys; sys.path.insert(0, {str(ROOT)!r})\nimport flowkit", timeout=60
        )
        kc.execute_interactive(SLOW_FLOW, timeout=60)
        kc.execute(f"flowkit.run(SlowFlow, store={store!r}, quiet=True)")
        _wait_for_running(Path(store), 2)
        (run_id,) = open_store(store).records.list_runs("SlowFlow")
        run = Run(f"SlowFlow/{run_id}", store=store)
        time.sleep(2.5)  # longer than a lease lasts: only the kernel's beats keep it running
        assert run.status == "running"
        os.kill(km.provisioner.process.pid, signal.SIGKILL)  # as the OOM killer would
        killed = time.monotonic()
        while run.status == "running":
            assert time.monotonic() - killed < 15, "the run still reads as running"
            time.sleep(0.1)
        assert run.status == "crashed" and run.end_record is None
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
