"""A task's artifacts as the client shows them: names up front, values loaded on access."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from flowkit.store.errors import NotFoundError
from flowkit.store.records import ArtifactRef
from flowkit.store.store import Store

if TYPE_CHECKING:
    from datetime import datetime


class ObjectNotFound(NotFoundError, KeyError):
    """``flow[run_id]``, ``run[step]``, ``step[task_id]`` or ``task[name]`` names nothing
    there: a KeyError too, as Metaflow's client raises, so ``try/except KeyError`` works."""


class ArtifactNotFound(ObjectNotFound, AttributeError):
    """A task has no artifact of that name (an AttributeError too, so ``hasattr`` works, and
    a KeyError, for ``task[name]``)."""


def _missing(pathspec: str, name: str, names: Mapping[str, ArtifactRef]) -> ArtifactNotFound:
    known = ", ".join(sorted(names)) or "none"
    return ArtifactNotFound(
        f"task {pathspec} has no artifact '{name}'", f"its artifacts are: {known}"
    )


class DataArtifact:
    """One artifact of one task: its digest, size and type now, its value on ``.data``."""

    def __init__(
        self,
        store: Store,
        pathspec: str,
        name: str,
        ref: ArtifactRef,
        finished_at: float | None = None,
    ) -> None:
        self._store = store
        self.pathspec = f"{pathspec}/{name}"
        self.id = name
        self._ref = ref
        self.sha = ref.digest
        self.size = ref.size
        self.type = ref.type
        self._finished_at = finished_at

    @property
    def finished_at(self) -> datetime | None:
        """When the task that stored it finished (Metaflow's ``finished_at``); None while
        that task runs."""
        if self._finished_at is None:
            return None
        from datetime import UTC, datetime  # here: a client that reads no time never imports it

        return datetime.fromtimestamp(self._finished_at, UTC)

    @property
    def created_at(self) -> datetime | None:
        """An alias of :attr:`finished_at`, as in Metaflow."""
        return self.finished_at

    @property
    def data(self) -> Any:
        """The value, read from the store and verified against its digest."""
        task, name = self.pathspec.rsplit("/", 1)
        owner = f"artifact '{name}' of task {task}"
        return self._store.values.load_artifact(self._ref, owner=owner)

    def __repr__(self) -> str:
        return f"DataArtifact('{self.pathspec}', type={self.type}, size={self.size})"

    def _repr_html_(self) -> str:
        from flowkit.client.display import artifact_html

        return artifact_html(self)


class Artifacts:
    """``task.artifacts``: every artifact by attribute or name, without loading any value."""

    def __init__(
        self,
        store: Store,
        pathspec: str,
        refs: Mapping[str, ArtifactRef],
        finished_at: float | None = None,
    ) -> None:
        self._store, self._pathspec, self._refs = store, pathspec, refs
        self._finished_at = finished_at

    def __getattr__(self, name: str) -> DataArtifact:
        if name.startswith("_"):
            raise AttributeError(name)
        return self[name]

    def __getitem__(self, name: str) -> DataArtifact:
        ref = self._refs.get(name)
        if ref is None:
            raise _missing(self._pathspec, name, self._refs)
        return DataArtifact(self._store, self._pathspec, name, ref, self._finished_at)

    def __contains__(self, name: object) -> bool:
        return name in self._refs

    def __iter__(self) -> Iterator[DataArtifact]:
        return (self[name] for name in sorted(self._refs))

    def __len__(self) -> int:
        return len(self._refs)

    def __dir__(self) -> list[str]:
        return sorted(self._refs)


class TaskData:
    """``task.data``: ``task.data.name`` loads that artifact once, on first access."""

    def __init__(self, store: Store, pathspec: str, refs: Mapping[str, ArtifactRef]) -> None:
        self._store, self._pathspec, self._refs = store, pathspec, refs
        self._values: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name not in self._values:
            ref = self._refs.get(name)
            if ref is None:
                raise _missing(self._pathspec, name, self._refs)
            owner = f"artifact '{name}' of task {self._pathspec}"
            self._values[name] = self._store.values.load_artifact(ref, owner=owner)
        return self._values[name]

    def __contains__(self, name: object) -> bool:
        return name in self._refs

    def __dir__(self) -> list[str]:
        return sorted(self._refs)

    def __repr__(self) -> str:
        return f"<TaskData of {self._pathspec}: {', '.join(sorted(self._refs))}>"
