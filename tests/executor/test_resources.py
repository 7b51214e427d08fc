"""``@resources`` locally: a task waits for its GPUs and sees only the ones it was given."""

from __future__ import annotations

from pathlib import Path

import pytest

import flowkit
from flowkit.executor.resources import ResourcePool, visible_gpus
from tests.flows.gpus import GpuFlow
from tests.runtime.test_shapes import Quiet


def test_gpus_are_assigned_exclusively(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    run = flowkit.run(GpuFlow, store=str(tmp_path), progress=Quiet(), max_workers=4)
    usage = run["join"].task.data.usage
    assert sorted(g for g, _, _ in usage) == ["0", "0", "1", "1"]
    for gpu in ("0", "1"):
        spans = sorted((b, e) for g, b, e in usage if g == gpu)
        assert spans[0][1] <= spans[1][0], f"GPU {gpu} was given to two tasks at once"


def test_a_request_the_machine_cannot_meet_fails_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    with pytest.raises(flowkit.RunFailed) as info:
        flowkit.run(GpuFlow, store=str(tmp_path), progress=Quiet())
    assert (
        "step 'train' cannot run on local: it asks for 1 GPU, and this machine has 0"
        in info.value.render()
    )


def test_pool_accounting() -> None:
    pool = ResourcePool(cpus=4, gpus=["0", "1"])
    assert pool.try_take("a", 3, 1) == {"CUDA_VISIBLE_DEVICES": "0"}
    assert pool.try_take("b", 2, 0) is None  # 5 CPUs > 4
    assert pool.try_take("c", 1, 1) == {"CUDA_VISIBLE_DEVICES": "1"}
    assert pool.try_take("d", 0.5, 1) is None  # no GPU left
    pool.release("a")
    assert pool.try_take("d", 0.5, 1) == {"CUDA_VISIBLE_DEVICES": "0"}
    big = ResourcePool(cpus=2, gpus=[])
    assert big.try_take("huge", 16, 0) == {}  # more than the machine: runs alone
    assert big.try_take("next", 1, 0) is None
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": "2, 3"}) == ["2", "3"]
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": "-1"}) == []


def test_a_resume_on_a_machine_without_gpus_clones_the_gpu_steps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a run made where there were GPUs, resumed after them where there are none: the GPU
    # step is cloned, so the request it can no longer meet stops nothing
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    first = flowkit.run(GpuFlow, store=str(tmp_path), progress=Quiet())
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    again = flowkit.resume(
        GpuFlow, "join", origin_run_id=first.id, store=str(tmp_path), progress=Quiet()
    )
    assert again.successful
    assert [t.origin_pathspec is not None for t in again["train"]] == [True] * 4
    with pytest.raises(flowkit.RunFailed, match="this machine has 0"):  # a new run cannot
        flowkit.run(GpuFlow, store=str(tmp_path), progress=Quiet())
