"""The errors the store and the client raise, each worded for the user who has to act on it.

::

    FlowkitError (flowkit.errors)
    └── StoreError                  anything wrong with the store or with what was asked of it
        ├── InvalidKeyError         a name or key that could escape the root or is malformed
        ├── BadPathspecError        a pathspec that does not parse
        ├── KeyNotFoundError        a backend key that does not exist
        ├── NotFoundError           a flow, run, step, task or artifact that is not in the store
        ├── RecordExistsError       a write-once record was written twice
        ├── CorruptBlobError        a blob whose bytes no longer match its digest
        ├── StoreFullError          the disk (or quota) under the store is full
        ├── ArtifactNotSerializable a step set an artifact that cannot be pickled
        ├── UnknownStoreError       a store URL whose scheme no installed backend handles
        └── UnsharedStoreError      a run asked of a store its tasks' processes cannot open
"""

from __future__ import annotations

from flowkit.errors import FlowkitError


class StoreError(FlowkitError):
    """Base of every store and client error."""


class InvalidKeyError(StoreError):
    """A user-supplied name or a backend key is malformed or could leave the store root."""


class BadPathspecError(StoreError):
    """A pathspec is not ``Flow[/run[/step[/task]]]`` made of safe names."""


class KeyNotFoundError(StoreError):
    """A backend was asked for a key it does not hold."""

    def __init__(self, key: str) -> None:
        super().__init__(f"no such key in the store: {key}")
        self.key = key


class NotFoundError(StoreError):
    """A flow, run, step, task or artifact the user named is not in the store."""


class RecordExistsError(StoreError):
    """A write-once record already exists; records are never overwritten."""


class CorruptBlobError(StoreError):
    """A blob's bytes do not hash to its name, or its header cannot be read."""

    def __init__(self, digest: str, where: str, why: str, *, owner: str | None = None) -> None:
        named = f"{owner}: blob" if owner else "blob"
        super().__init__(
            f"{named} {digest} at {where} is corrupt: {why}",
            "the file was changed or damaged after it was written; remove it (flowkit fsck "
            "--repair removes every damaged blob), then resume the run: the task that wrote it "
            "runs again and writes it anew (any run that writes the same value replaces it too)",
        )
        self.digest, self.where, self.why, self.owner = digest, where, why, owner

    def naming(self, owner: str) -> CorruptBlobError:
        """The same error, saying which artifact of which task reads the blob."""
        return CorruptBlobError(self.digest, self.where, self.why, owner=owner)


class NewerBlobFormatError(StoreError):
    """A blob written by a newer flowkit, in a format this one cannot read: not damaged, so
    nothing (``fsck --repair`` included) takes it away; this flowkit needs upgrading."""

    def __init__(self, digest: str, where: str, version: int, readable: tuple[int, ...]) -> None:
        super().__init__(
            f"blob {digest} at {where} is in format {version}, written by a newer flowkit "
            f"(this one reads formats {', '.join(map(str, readable))})",
            "upgrade flowkit here (pip install -U flowkit), and on every machine that runs "
            "this store's tasks, before reading or writing the store with it",
        )
        self.digest, self.where, self.version = digest, where, version


class StoreFullError(StoreError):
    """A write failed because the disk or quota under the store is full; nothing was kept."""

    def __init__(self, root: str, key: str, cause: OSError) -> None:
        super().__init__(
            f"the store at {root} is full: writing {key} failed ({cause.strerror}); "
            "nothing partial was kept",
            "free space on that disk (or raise the quota), then resume the run",
        )
        self.key = key


class ArtifactNotSerializable(StoreError):
    """A step set an artifact whose value neither pickle nor cloudpickle can serialize."""

    def __init__(self, name: str, type_name: str, step: str | None, cause: BaseException) -> None:
        where = f"step '{step}'" if step else "a step"
        super().__init__(
            f"{where}: artifact '{name}' of type {type_name} cannot be pickled: "
            f"{type(cause).__name__}: {cause}",
            f"don't keep it on self (use a local variable), or store something picklable "
            f"that can rebuild it (a path, a config dict) instead of self.{name}",
        )
        self.name = name
        self.type_name = type_name
        self.step = step


class UnknownStoreError(StoreError):
    """A store URL names a scheme that no installed backend provides."""


class UnsharedStoreError(StoreError):
    """A run was asked of a store that only this process sees (``memory://``): its tasks
    run in other processes, which could neither read their inputs nor record their results."""

    def __init__(self, url: str) -> None:
        super().__init__(
            f"the store {url} lives in this process's memory, and a run's tasks run in other "
            "processes, which cannot see it",
            "run the flow on a store in a folder: store='path/to/store' (or file:///path), or "
            "leave store unset for the default one",
        )
        self.url = url
