"""The client: read any run of any flow from the store, Metaflow-style."""

from flowkit.client.data import ArtifactNotFound, Artifacts, DataArtifact, ObjectNotFound, TaskData
from flowkit.client.failure import TaskException
from flowkit.client.namespace import (
    NamespaceMismatch,
    default_namespace,
    get_namespace,
    namespace,
)
from flowkit.client.objects import Flow, Run, Step, Task
from flowkit.client.provider import default_metadata, get_metadata, metadata
from flowkit.client.root import Metaflow
from flowkit.client.tags import TaggingError
from flowkit.client.task_metadata import Metadata

__all__ = [
    "ArtifactNotFound",
    "Artifacts",
    "DataArtifact",
    "Flow",
    "Metadata",
    "Metaflow",
    "NamespaceMismatch",
    "ObjectNotFound",
    "Run",
    "Step",
    "TaggingError",
    "Task",
    "TaskData",
    "TaskException",
    "default_metadata",
    "default_namespace",
    "get_metadata",
    "get_namespace",
    "metadata",
    "namespace",
]
