"""The local executor: typed outcomes, no pids; tasks that do not fit yet wait in it."""

from __future__ import annotations

import itertools
import time
from dataclasses import replace
from pathlib import Path

import pytest

import flowkit
from flowkit.executor.base import (
    ExecutorContext,
    Failed,
    Killed,
    Message,
    Output,
    Request,
    Started,
    Submission,
    Succeeded,
)
from flowkit.executor.local import LocalExecutor
from flowkit.executor.resources import ResourcePool
from flowkit.store import open_store
from tests.flows.gpu_queue import GpuQueueFlow
from tests.runtime.test_shapes import Quiet
from tests.runtime.test_worker import _spec_for_step_a


def _until_ended(executor: LocalExecutor, keys: set[str]) -> list[Message]:
    messages: list[Message] = []
    deadline = time.monotonic() + 60
    while keys and time.monotonic() < deadline:
        for message in executor.poll(0.2):
            messages.append(message)
            if not isinstance(message, Started | Output):
                keys.discard(message.key)
    assert not keys, f"never ended: {keys}"
    return messages


def test_tasks_wait_for_their_gpus_and_end_with_typed_outcomes(tmp_path: Path) -> None:
    spec, _ = _spec_for_step_a(tmp_path)
    store = open_store(str(tmp_path))
    one, two, three = (replace(spec, task_id=store.records.new_task_id()) for _ in range(3))
    bad = replace(spec, task_id=store.records.new_task_id(), inputs=("start/missing/0",))
    executor = LocalExecutor(
        ExecutorContext(store, spec.code, echo=False), pool=ResourcePool(cpus=8, gpus=["7"])
    )
    try:
        assert executor.check(Request(gpu=2)) == "it asks for 2 GPUs, and this machine has 1"
        assert executor.check(Request(cpu=64, gpu=1)) is None
        gpu = Request(gpu=1)
        executor.submit(
            [Submission("one", one, gpu), Submission("two", two, gpu), Submission("bad", bad)]
        )
        executor.submit([Submission("three", three, gpu)])
        executor.cancel("three")  # still waiting for the GPU: it never starts
        messages = _until_ended(executor, {"one", "two", "three", "bad"})
    finally:
        executor.close()
    news = [m for m in messages if not isinstance(m, Output)]
    by_key = {k: [type(m).__name__ for m in news if m.key == k] for k in ("one", "two", "bad")}
    assert by_key == {
        "one": ["Started", "Succeeded"],
        "two": ["Started", "Succeeded"],
        "bad": ["Started", "Failed"],
    }
    assert news[0] == Killed("three")
    # "two" gets the only GPU once "one" has given it back
    assert news.index(Succeeded("one")) < news.index(Started("two"))
    assert Failed("bad", 1) in news
    for task in (one, two):
        record = store.records.get_task(task.flow, task.run_id, "a", task.task_id)
        assert record.successful


def test_tasks_queued_for_a_gpu_leave_the_other_worker_slot_to_cpu_tasks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    run = flowkit.run(GpuQueueFlow, store=str(tmp_path), progress=Quiet(), max_workers=2)
    gpu = sorted((t.record for t in run["gpu"]), key=lambda r: r.started_at)
    c = next(iter(run["c"])).record
    # The GPU tasks ran one at a time; c did not wait behind the two queued for the GPU.
    assert all(a.finished_at <= b.started_at for a, b in itertools.pairwise(gpu))
    assert c.finished_at is not None and gpu[0].finished_at is not None
    assert c.finished_at < gpu[0].finished_at


def test_fail_fast_withdraws_tasks_queued_for_a_gpu(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    monkeypatch.setenv("FLOWKIT_TEST_FAIL_GPU", "1")
    monkeypatch.setenv("FLOWKIT_TEST_GPU_SECONDS", "0")
    with pytest.raises(flowkit.RunFailed) as info:
        flowkit.run(
            GpuQueueFlow, store=str(tmp_path), progress=Quiet(), max_workers=2, fail_fast=True
        )
    gpu = list(info.value.run["gpu"])
    # Only the task that failed ran: the two queued behind it for the GPU were withdrawn,
    # and left no record (a resume runs them).
    assert [t.successful for t in gpu] == [False], [(t.pathspec, t.successful) for t in gpu]
    assert "gpu task 1 told to fail" in info.value.render()
