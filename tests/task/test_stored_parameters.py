"""A task loads a parameter's value from the store only when its step reads it."""

from __future__ import annotations

from flowkit.store import MemoryBackend, Store
from flowkit.task.execute import StoredParameters


class CountingReads(MemoryBackend):
    def __init__(self) -> None:
        super().__init__("reads")
        self.reads: list[str] = []

    def get(self, key: str) -> bytes:
        self.reads.append(key)
        return super().get(key)


def test_a_task_loads_only_the_parameters_its_step_reads() -> None:
    backend = CountingReads()
    store = Store(backend)
    refs = {name: store.values.put(value) for name, value in (("alpha", 0.5), ("rows", [1, 2]))}
    params = StoredParameters(
        Store(backend), {n: (r.digest, r.size, r.type) for n, r in refs.items()}
    )
    backend.reads.clear()
    assert "alpha" in params and "beta" not in params and sorted(params) == ["alpha", "rows"]
    assert backend.reads == []  # naming them loads nothing
    assert params["alpha"] == 0.5 and params["alpha"] == 0.5
    assert backend.reads == [f"blobs/{refs['alpha'].digest[:2]}/{refs['alpha'].digest}"]
