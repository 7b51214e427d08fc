"""The client: read any run of any flow from the store, Metaflow-style."""

from flowkit.client.data import ArtifactNotFound, Artifacts, DataArtifact, TaskData
from flowkit.client.objects import Flow, Run, Step, Task

__all__ = [
    "ArtifactNotFound",
    "Artifacts",
    "DataArtifact",
    "Flow",
    "Run",
    "Step",
    "Task",
    "TaskData",
]
