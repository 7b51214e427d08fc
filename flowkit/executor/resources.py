"""The local executor's resource accounting: a task starts when its CPUs and GPUs are free."""

from __future__ import annotations

import os
from collections.abc import Mapping

from flowkit.fastdata import dataclass, field


def visible_gpus(environ: Mapping[str, str] | None = None) -> list[str]:
    """GPU ids this machine may use: ``CUDA_VISIBLE_DEVICES`` if set, else what the driver lists."""
    env = os.environ if environ is None else environ
    listed = env.get("CUDA_VISIBLE_DEVICES")
    if listed is not None:
        return [g for g in (x.strip() for x in listed.split(",")) if g and g != "-1"]
    root = "/proc/driver/nvidia/gpus"
    try:
        return [str(i) for i in range(len(os.listdir(root)))]
    except OSError:
        return []


@dataclass
class ResourcePool:
    """CPUs (a count) and GPUs (ids) shared by the tasks of one run on this machine."""

    cpus: float
    gpus: list[str]
    _used_cpu: float = 0.0
    _held: dict[str, tuple[float, list[str]]] = field(default_factory=dict)

    def unsatisfiable(self, cpu: float, gpu: int) -> str | None:
        """Why a request can never be met here, or None."""
        if gpu > len(self.gpus):
            have = len(self.gpus)
            return f"it asks for {gpu} GPU{'s' * (gpu != 1)}, and this machine has {have}"
        return None

    def try_take(self, key: str, cpu: float, gpu: int) -> dict[str, str] | None:
        """Reserve for ``key``; the environment the task gets, or None if it must wait.

        A task asking for more CPUs than the machine has runs when nothing else does.
        """
        cpu_fits = self._used_cpu + cpu <= self.cpus or not self._held
        free = [g for g in self.gpus if not any(g in ids for _, ids in self._held.values())]
        if not cpu_fits or len(free) < gpu:
            return None
        ids = free[:gpu]
        self._used_cpu += cpu
        self._held[key] = (cpu, ids)
        return {"CUDA_VISIBLE_DEVICES": ",".join(ids)} if gpu else {}

    def release(self, key: str) -> None:
        cpu, _ = self._held.pop(key, (0.0, []))
        self._used_cpu -= cpu
