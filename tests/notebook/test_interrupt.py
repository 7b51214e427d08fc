"""Interrupting the kernel cancels a run cleanly; the kernel stays responsive."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from flowkit.store import open_store
from tests.conftest import ROOT, require

SLOW_FLOW = """
import time
from flowkit import FlowSpec, step

class SlowFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2]
        self.next(self.nap, foreach="items")

    @step
    def nap(self):
        time.sleep(60)
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass
"""


@pytest.mark.kernel
def test_interrupting_the_kernel_cancels_the_run(tmp_path: Path) -> None:
    require("ipykernel")
    jupyter_client = require("jupyter_client")
    psutil = require("psutil")
    km, kc = jupyter_client.manager.start_new_kernel(kernel_name="python3")
    try:
        store = str(tmp_path / "store")
        kc.execute_interactive(
            f"import sys; sys.path.insert(0, {str(ROOT)!r})\nimport flowkit", timeout=60
        )
        kc.execute_interactive(SLOW_FLOW, timeout=60)
        msg_id = kc.execute(
            f"try:\n    flowkit.run(SlowFlow, store={store!r}, quiet=True)\n"
            "except flowkit.RunFailed as e:\n"
            "    print('CANCELLED' if e.cancelled else 'OTHER', e.run.id, e.hint)"
        )
        nap_pids = _wait_for_running(Path(store), 2)
        kernel = psutil.Process(km.provisioner.process.pid)
        watched = [
            p
            for p in kernel.children(recursive=True)
            if p.pid in nap_pids or "flowkit.executor.forkserver" in " ".join(p.cmdline())
        ]
        names = {p.pid: p.name() for p in watched}
        shepherds = {psutil.Process(pid).ppid() for pid in nap_pids}
        zygotes = [pid for pid, name in names.items() if name == "flowkit-zygote"]
        # the warm worker, its zygote, the two napping tasks and their shepherds (and the
        # shepherd the zygote forked ahead of the next task, with its waiting process)
        assert nap_pids | shepherds <= set(names) and len(zygotes) == 1
        assert psutil.Process(zygotes[0]).ppid() in names
        started = time.monotonic()
        km.interrupt_kernel()
        reply = kc.get_shell_msg(timeout=10)
        while reply["parent_header"].get("msg_id") != msg_id:
            reply = kc.get_shell_msg(timeout=10)
        assert time.monotonic() - started < 3
        printed = _stdout(kc, msg_id)
        assert printed.startswith("CANCELLED"), printed
        assert "nothing finished is lost, then resume: flowkit.resume(SlowFlow" in printed
        (run_id,) = open_store(store).records.list_runs("SlowFlow")
        end = open_store(store).records.get_run_end("SlowFlow", run_id)
        assert end is not None and end.status == "cancelled"
        statuses = sorted(
            t.status for t in open_store(store).records.list_tasks("SlowFlow", run_id, "nap")
        )
        assert statuses == ["killed", "killed"]
        _, alive = psutil.wait_procs(watched, timeout=5)
        assert alive == [], "the worker or its tasks outlived the cancelled run"
        assert kc.execute_interactive("x = 1 + 1", timeout=10)["content"]["status"] == "ok"
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def _wait_for_running(store: Path, count: int) -> set[int]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if (store / "runs").exists():
            s = open_store(str(store))
            for run_id in s.records.list_runs("SlowFlow"):
                if "nap" in s.records.list_steps("SlowFlow", run_id):
                    running = [
                        t
                        for t in s.records.list_tasks("SlowFlow", run_id, "nap")
                        if t.status == "running"
                    ]
                    if len(running) >= count:
                        return {int(t.pid) for t in running if t.pid}
        time.sleep(0.05)
    raise AssertionError("the tasks never started")


def _stdout(kc, msg_id: str) -> str:
    out = []
    while True:
        msg = kc.get_iopub_msg(timeout=10)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "stream":
            out.append(msg["content"]["text"])
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return "".join(out)
