"""The store: content-addressed values, write-once records, ids and streamed logs.

Start with :func:`open_store`; the layout under a root is documented in
:mod:`flowkit.store.layout`, the blob format in :mod:`flowkit.store.blobs`.
"""

import typing

from flowkit import lazy

if typing.TYPE_CHECKING:  # the same names as below, for type checkers and IDEs
    from flowkit.store.backend import Backend, Bytes
    from flowkit.store.errors import (
        ArtifactNotSerializable,
        BadPathspecError,
        CorruptBlobError,
        InvalidKeyError,
        KeyNotFoundError,
        NotFoundError,
        RecordExistsError,
        StoreError,
        UnknownStoreError,
        UnsharedStoreError,
    )
    from flowkit.store.keys import Pathspec, check_name, is_name, name_rule, parse_pathspec
    from flowkit.store.local import LocalBackend
    from flowkit.store.logs import LogLine, LogWriter
    from flowkit.store.memory import MemoryBackend
    from flowkit.store.open import backend_for, open_store
    from flowkit.store.records import (
        ArtifactRef,
        ExceptionInfo,
        RunEndRecord,
        RunRecord,
        TaskRecord,
    )
    from flowkit.store.store import Store, StoreArtifacts

# Each name is imported on first use (flowkit/lazy.py): importing this package imports
# none of its modules.
__getattr__, __dir__ = lazy.lazy_exports(
    __name__,
    {
        "flowkit.store.backend": (
            "Backend",
            "Bytes",
        ),
        "flowkit.store.errors": (
            "ArtifactNotSerializable",
            "BadPathspecError",
            "CorruptBlobError",
            "InvalidKeyError",
            "KeyNotFoundError",
            "NotFoundError",
            "RecordExistsError",
            "StoreError",
            "UnknownStoreError",
            "UnsharedStoreError",
        ),
        "flowkit.store.keys": (
            "Pathspec",
            "check_name",
            "is_name",
            "name_rule",
            "parse_pathspec",
        ),
        "flowkit.store.local": ("LocalBackend",),
        "flowkit.store.logs": (
            "LogLine",
            "LogWriter",
        ),
        "flowkit.store.memory": ("MemoryBackend",),
        "flowkit.store.open": (
            "backend_for",
            "open_store",
        ),
        "flowkit.store.records": (
            "ArtifactRef",
            "ExceptionInfo",
            "RunEndRecord",
            "RunRecord",
            "TaskRecord",
        ),
        "flowkit.store.store": (
            "Store",
            "StoreArtifacts",
        ),
    },
)

__all__ = [
    "ArtifactNotSerializable",
    "ArtifactRef",
    "Backend",
    "BadPathspecError",
    "Bytes",
    "CorruptBlobError",
    "ExceptionInfo",
    "InvalidKeyError",
    "KeyNotFoundError",
    "LocalBackend",
    "LogLine",
    "LogWriter",
    "MemoryBackend",
    "NotFoundError",
    "Pathspec",
    "RecordExistsError",
    "RunEndRecord",
    "RunRecord",
    "Store",
    "StoreArtifacts",
    "StoreError",
    "TaskRecord",
    "UnknownStoreError",
    "UnsharedStoreError",
    "backend_for",
    "check_name",
    "is_name",
    "name_rule",
    "open_store",
    "parse_pathspec",
]
