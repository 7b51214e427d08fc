"""An executor from a third-party package, really installed, runs part of a flow.

The package (see conftest.py) is a wheel built here by hand and installed with pip into a
folder put on the import path. Its executor runs each task as ``python -m flowkit.worker
STORE SPEC-KEY`` in a subprocess (submit and detach, then poll), the way a cluster backend
would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import flowkit
import flowkit.plugins
from flowkit.executor.registry import ExecutorStartError
from flowkit.plugins import PluginLoadError, PluginNotInstalled
from flowkit.store import open_store
from tests.conftest import FLOWS, ROOT, require
from tests.executor.conftest import logged, submitted, summary
from tests.flows.gpus import GpuFlow
from tests.flows.linear import LinearFlow
from tests.flows.mixed_executors import MixedFlow, SlurmFlow
from tests.runtime.test_shapes import Quiet


def test_a_run_mixes_a_third_party_executor_with_the_local_one(
    third_party: Path, tmp_path: Path
) -> None:
    local = flowkit.run(MixedFlow, store=str(tmp_path / "a"), progress=Quiet(), n=4)
    assert submitted(third_party) == []
    mixed = flowkit.run(
        MixedFlow,
        store=str(tmp_path / "b"),
        progress=Quiet(),
        n=4,
        with_decorators=["thirdparty:queue=fast"],
    )
    # join is pinned to the local executor; every other step went to the third party's
    assert submitted(third_party) == sorted(
        [("start", {"queue": "fast"}), ("end", {"queue": "fast"})]
        + [("work", {"queue": "fast"})] * 4
    )
    assert mixed["join"].task.data.labels == ["ITEM-0", "ITEM-1", "ITEM-2", "ITEM-3"]
    assert mixed["end"].task.data.summary == local["end"].task.data.summary == "60/4"
    expected = summary(tmp_path / "a", "MixedFlow", local.id)
    assert set(expected) == {"start", "work", "join", "end"}
    assert len(expected["work"]) == 4 and all(t[0] for ts in expected.values() for t in ts)
    assert summary(tmp_path / "b", "MixedFlow", mixed.id) == expected


@pytest.mark.slow
def test_with_on_the_command_line_picks_the_executor(
    installed: Path, third_party: Path, tmp_path: Path
) -> None:
    result = subprocess.run(
        [
            *(sys.executable, str(FLOWS / "mixed_executors.py"), "run"),
            *("--store", str(tmp_path / "s"), "--n", "2", "--with", "thirdparty:queue=slow"),
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(installed)])},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert [s for s, _ in submitted(third_party)] == ["end", "start", "work", "work"]
    assert {json.dumps(o) for _, o in submitted(third_party)} == {'{"queue": "slow"}'}


def test_a_backend_that_is_not_installed_says_what_to_install(
    third_party: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # as on a machine without flowkit-slurm and flowkit-aws-batch (this one may have them)
    installed = flowkit.plugins._entry_points
    monkeypatch.setattr(
        flowkit.plugins,
        "_entry_points",
        lambda group, path: {
            k: v for k, v in installed(group, path).items() if k not in ("slurm", "batch")
        },
    )
    with pytest.raises(PluginNotInstalled) as info:
        flowkit.run(SlurmFlow, store=str(tmp_path), progress=Quiet())
    text = info.value.render()
    assert f"step 'end' ({FLOWS / 'mixed_executors.py'}:47) is decorated with @slurm" in text
    assert "no executor 'slurm' is installed\n    hint: pip install flowkit-slurm" in text
    assert not (tmp_path / "runs").exists(), "nothing may run before the check"
    with pytest.raises(PluginNotInstalled, match="hint: pip install flowkit-aws-batch"):
        flowkit.run(MixedFlow, store=str(tmp_path), progress=Quiet(), with_decorators=["batch"])
    with pytest.raises(PluginNotInstalled) as info:
        flowkit.run(MixedFlow, store=str(tmp_path), progress=Quiet(), with_decorators=["kube"])
    assert info.value.render() == (
        "--with kube runs every step without an executor of its own there, and no executor "
        "'kube' is installed\n    hint: install the package that provides it (it registers "
        "a 'flowkit.executors' entry point 'kube')"
    )


def test_a_plugin_that_fails_to_load_says_which_and_why(third_party: Path, tmp_path: Path) -> None:
    with pytest.raises(PluginLoadError) as info:
        flowkit.run(MixedFlow, store=str(tmp_path), progress=Quiet(), with_decorators=["tpbroken"])
    assert info.value.message == (
        "the plug-in 'tpbroken' (flowkit.executors = tp_exec.broken:Executor) failed to load: "
        "ImportError: No module named 'tp_cluster_sdk'"
    )


def test_an_executor_that_cannot_start_fails_the_run_before_any_task(
    third_party: Path, tmp_path: Path
) -> None:
    psutil = require("psutil")
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    with pytest.raises(ExecutorStartError) as info:
        flowkit.run(MixedFlow, store=str(tmp_path), progress=Quiet(), with_decorators=["tpbad"])
    message = (
        "the executor 'tpbad' (flowkit.executors = tp_exec.bad:Executor) failed to start: "
        "RuntimeError: sbatch: command not found"
    )
    assert info.value.render() == (
        f"{message}\n    hint: the error is the plug-in's: fix what it reports (its backend's "
        "tools or settings on this machine), or reinstall the package that provides it; "
        "nothing ran, so run the flow again once it starts"
    )
    run = flowkit.Flow("MixedFlow", store=str(tmp_path)).latest_run
    records = open_store(str(tmp_path)).records
    end = records.get_run_end("MixedFlow", run.id)
    assert run.status == "failed" and end is not None
    assert end.message == f"the run could not start: {message}"
    assert records.list_steps("MixedFlow", run.id) == []
    # join runs locally: the warm worker started first, and was closed with the run
    left = [
        p
        for p in psutil.Process().children(recursive=True)
        if p.pid not in before and p.status() != psutil.STATUS_ZOMBIE
    ]
    assert left == []


def test_a_request_the_executor_can_never_meet_fails_the_run_clearly(
    third_party: Path, tmp_path: Path
) -> None:
    with pytest.raises(flowkit.RunFailed) as info:
        flowkit.run(GpuFlow, store=str(tmp_path), progress=Quiet(), with_decorators=["thirdparty"])
    assert (
        "step 'train' cannot run on thirdparty: it asks for 1 GPU, and thirdparty has none"
        in info.value.render()
    )
    assert submitted(third_party) == []  # every step is checked before any task runs


def test_the_executor_is_told_whether_max_workers_was_chosen(
    third_party: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cluster executor throttles only when the user chose --max-workers, not by this
    machine's cores."""
    monkeypatch.delenv("FLOWKIT_MAX_WORKERS", raising=False)
    options: dict[str, Any] = {"store": str(tmp_path), "progress": Quiet()}
    flowkit.run(LinearFlow, **options, with_decorators=["thirdparty"])
    flowkit.run(LinearFlow, **options, with_decorators=["thirdparty"], max_workers=2)
    monkeypatch.setenv("FLOWKIT_MAX_WORKERS", "3")
    flowkit.run(LinearFlow, **options, with_decorators=["thirdparty"])
    assert logged(third_party, ".contexts") == [[os.cpu_count(), False], [2, True], [3, True]]


def test_a_request_carries_the_steps_timeout(third_party: Path, tmp_path: Path) -> None:
    options: dict[str, Any] = {"store": str(tmp_path), "progress": Quiet()}
    flowkit.run(LinearFlow, **options, with_decorators=["thirdparty"])
    flowkit.run(LinearFlow, **options, with_decorators=["thirdparty", "timeout:seconds=30"])
    steps = ["start", "a", "b", "end"]
    assert logged(third_party, ".timeouts") == [[s, None] for s in steps] + [[s, 30] for s in steps]
