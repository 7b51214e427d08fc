"""The store: content-addressed values, write-once records, ids and streamed logs.

Start with :func:`open_store`; the layout under a root is documented in
:mod:`flowkit.store.layout`, the blob format in :mod:`flowkit.store.blobs`.
"""

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
