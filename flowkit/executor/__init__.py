"""The executor layer: where a task's process runs (local warm workers, clusters, ...)."""
