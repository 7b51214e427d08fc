"""The store facade the runtime, the client and the CLI use: one object, one part per concept.

- ``store.values``: artifact values as content-addressed blobs (:mod:`flowkit.store.values`);
- ``store.records``: write-once run and task records, and ids (:mod:`flowkit.store.runs`);
- ``store.logs``: each task's streamed stdout and stderr (:mod:`flowkit.store.logs`);
- ``store.index``: cache keys and run explanations (:mod:`flowkit.store.index`);
- ``store.leases``: whether a run's scheduler lives, and a run's state (:mod:`flowkit.store.lease`);
- ``store.tags``: changes of runs' user tags (:mod:`flowkit.store.tags`).

Nothing above the store touches its backend or its key layout: what it needs is a method here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, TypeVar

from flowkit.store.backend import Backend
from flowkit.store.errors import StoreError
from flowkit.store.index import Index
from flowkit.store.lease import Leases
from flowkit.store.logs import Logs
from flowkit.store.overlap import overlapped
from flowkit.store.runs import Records
from flowkit.store.tags import RunTags
from flowkit.store.values import StoreArtifacts, Values

if TYPE_CHECKING:
    from flowkit.store.deployments import Deployments

__all__ = ["Store", "StoreArtifacts"]

T = TypeVar("T")
R = TypeVar("R")


class Store:
    """One store root seen through a :class:`~flowkit.store.backend.Backend`."""

    def __init__(self, backend: Backend) -> None:
        #: The byte backend, for the store's own modules (fsck, dead letters) only.
        self.backend = backend
        self.values = Values(backend)
        self.records = Records(backend, self.values)
        self.index = Index(backend, self.records)
        self.leases = Leases(backend, self.records)
        self.logs = Logs(backend, self.records, self.leases)
        self.tags = RunTags(backend)

    @property
    def url(self) -> str:
        return self.backend.url

    @property
    def shared(self) -> bool:
        """Whether other processes that open :attr:`url` see this same store (a directory
        does; ``memory://`` lives in this process only)."""
        return self.backend.shared

    @property
    def remote(self) -> bool:
        """Whether each call is a network round trip (an object store): a poller asks less
        often then."""
        return self.backend.remote

    @cached_property
    def deployments(self) -> Deployments:
        """Deployed flows, their claims and published events (the one-machine scheduler's
        records); imported on first use, as only the scheduler's commands need them."""
        from flowkit.store.deployments import Deployments

        return Deployments(self.backend)

    def __repr__(self) -> str:
        return f"Store({self.backend!r})"

    def put_spec(self, spec_json: str) -> str:
        """Store a task spec (its JSON) once by its content; the key to give
        ``python -m flowkit.worker STORE KEY`` (or a detached scheduler's spec, for
        ``python -m flowkit.driver STORE KEY``)."""
        return self.values.put(spec_json, name="<task spec>").digest

    def overlapped(self, call: Callable[[T], R], items: Iterable[T]) -> list[R]:
        """``[call(item) for item in items]``, overlapped on a remote store (many reads of
        records a reader above the store makes at once: the web UI's runs list)."""
        return overlapped(self.backend, call, items)

    def put_specs(self, specs: Sequence[str]) -> list[str]:
        """:meth:`put_spec` of each, in order; the writes overlap on a remote store (a
        cluster executor stores a whole foreach's specs before one array job)."""
        return overlapped(self.backend, self.put_spec, specs)

    def put_task_list(self, keys: Sequence[str]) -> str:
        """Store a list of task spec keys (an array job's, in index order) once by its
        content; the key to give ``python -m flowkit.worker --index-from VAR STORE KEY``,
        which runs the spec at the index ``$VAR`` says."""
        return self.put_spec(json.dumps({"task_list": list(keys)}, separators=(",", ":")))

    def task_list(self, key: str) -> list[str]:
        """The spec keys :meth:`put_task_list` stored under ``key``."""
        try:
            keys = json.loads(self.get_spec(key))["task_list"]
        except (ValueError, KeyError, TypeError):
            keys = None
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise StoreError(
                f"{key} in the store at {self.url} is not a list of task specs",
                "give the key the executor stored the array's task list under",
            )
        return keys

    def get_spec(self, key: str) -> str:
        """The task spec JSON :meth:`put_spec` stored under ``key``, verified against it."""
        spec = self.values.load(key, owner=f"task spec {key}")
        if not isinstance(spec, str):
            raise StoreError(
                f"{key} in the store at {self.url} is not a task spec",
                "give the key the executor stored the task's spec under",
            )
        return spec
