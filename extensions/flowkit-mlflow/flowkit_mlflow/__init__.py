"""MLflow tracking for flowkit runs: ``@track`` (or ``--with mlflow``, or the ``hooks``
setting) logs each run, its tasks, parameters and metrics to MLflow; :func:`log_model` stores a
model with an MLflow flavor and registers a version. Importing this package imports no MLflow.
"""

from flowkit_mlflow.models import log_model
from flowkit_mlflow.track import track

__all__ = ["log_model", "track"]
