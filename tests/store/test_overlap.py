"""On a remote store, many record reads (a join's inputs, a step's tasks) overlap."""

from __future__ import annotations

import threading
import time

from flowkit.store import MemoryBackend, Store
from flowkit.testing.fake_run import FakeTask, write_fake_run


class SlowRemote(MemoryBackend):
    """A remote-looking store whose reads take a while; it notes how many were in flight."""

    def __init__(self, remote: bool) -> None:
        super().__init__("slow")
        self.remote = remote
        self.reading = self.most = 0
        self._count = threading.Lock()

    def get(self, key: str) -> bytes:
        with self._count:
            self.reading += 1
            self.most = max(self.most, self.reading)
        time.sleep(0.01)
        try:
            return super().get(key)
        finally:
            with self._count:
                self.reading -= 1


def _fan_out(backend: SlowRemote) -> tuple[Store, str, list[tuple[str, str, int]]]:
    store = Store(backend)
    tasks = [FakeTask({"i": i}) for i in range(30)]
    run = write_fake_run(store, "F", {"work": tasks}, finish=None)
    wanted = [("work", r.task_id, 0) for r in store.records.list_tasks("F", run.run_id, "work")]
    return store, run.run_id, wanted


def test_a_joins_input_records_are_read_at_once_on_a_remote_store() -> None:
    backend = SlowRemote(remote=True)
    store, run_id, wanted = _fan_out(backend)
    backend.most = 0
    records = store.records.get_attempts("F", run_id, [*wanted, ("work", "nope", 0)])
    assert [r.task_id if r else None for r in records] == [t for _, t, _ in wanted] + [None]
    assert backend.most > 1
    backend.most = 0
    assert len(store.records.list_tasks("F", run_id, "work")) == 30
    assert backend.most > 1


def test_a_local_store_reads_one_after_another() -> None:
    backend = SlowRemote(remote=False)
    store, run_id, wanted = _fan_out(backend)
    backend.most = 0
    assert all(store.records.get_attempts("F", run_id, wanted))
    assert backend.most == 1


def test_ending_a_run_reads_no_record_the_scheduler_holds() -> None:
    backend = SlowRemote(remote=True)
    store, run_id, _ = _fan_out(backend)
    held = store.records.list_tasks("F", run_id, "work")
    read: list[str] = []
    real_get = backend.get
    backend.get = lambda key: read.append(key) or real_get(key)  # type: ignore[method-assign]
    store.records.end_run("F", run_id, "succeeded", known=held[:-1])
    assert [k for k in read if "/steps/" in k] == [  # only the one not held
        f"runs/F/{run_id}/steps/work/{held[-1].task_id}.0.json"
    ]
    assert store.records.list_tasks("F", run_id, "work") == held  # the index has them all
