"""``Metaflow()``: every flow in the store the client reads, as Metaflow's entry point has."""

from __future__ import annotations

from collections.abc import Iterator

from flowkit.client.namespace import NamespaceMismatch
from flowkit.client.objects import Flow
from flowkit.client.provider import StoreLike, client_store
from flowkit.store.errors import NotFoundError


class Metaflow:
    """The flows with at least one run in the current namespace, by name."""

    def __init__(self, *, store: StoreLike = None) -> None:
        self._store = client_store(store)

    def __repr__(self) -> str:
        return "Metaflow()"

    @property
    def flows(self) -> list[Flow]:
        return list(self)

    def __iter__(self) -> Iterator[Flow]:
        for name in self._store.records.list_flows():
            try:
                yield Flow(name, store=self._store)
            except (NamespaceMismatch, NotFoundError):  # no run there, or none in namespace
                continue

    def __getitem__(self, name: str) -> Flow:
        return Flow(name, store=self._store)
