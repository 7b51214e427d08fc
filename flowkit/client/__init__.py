"""The client: read any run of any flow from the store, Metaflow-style."""

import typing

from flowkit import lazy

if typing.TYPE_CHECKING:  # the same names as below, for type checkers and IDEs
    from flowkit.client.data import (
        ArtifactNotFound,
        Artifacts,
        DataArtifact,
        ObjectNotFound,
        TaskData,
    )
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

# Each name is imported on first use (flowkit/lazy.py): importing this package imports
# none of its modules.
__getattr__, __dir__ = lazy.lazy_exports(
    __name__,
    {
        "flowkit.client.data": (
            "ArtifactNotFound",
            "Artifacts",
            "DataArtifact",
            "ObjectNotFound",
            "TaskData",
        ),
        "flowkit.client.failure": ("TaskException",),
        "flowkit.client.namespace": (
            "NamespaceMismatch",
            "default_namespace",
            "get_namespace",
            "namespace",
        ),
        "flowkit.client.objects": (
            "Flow",
            "Run",
            "Step",
            "Task",
        ),
        "flowkit.client.provider": (
            "default_metadata",
            "get_metadata",
            "metadata",
        ),
        "flowkit.client.root": ("Metaflow",),
        "flowkit.client.tags": ("TaggingError",),
        "flowkit.client.task_metadata": ("Metadata",),
    },
)

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
