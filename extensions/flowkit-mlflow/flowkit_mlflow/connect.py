"""The MLflow client a run is logged with: the tracking URI the user chose, and HTTP retries
short enough that a server that is down costs a run seconds, not minutes (:func:`quick`)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

#: MLflow retries a refused request 7 times with growing waits by default (minutes in all);
#: a tracker that is down must not hold the run's scheduler that long. The user's own
#: settings of these variables win.
_QUICK = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "20",
    # each set_terminated would print two lines of links (and read the run again to make them)
    "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",
}


def tracking_uri(given: str | None) -> str | None:
    """The URI to log to: the one given (``@track``, the setting, ``--tracking-uri``), else
    ``MLFLOW_TRACKING_URI`` (None: MLflow's own default)."""
    return given or os.environ.get("MLFLOW_TRACKING_URI") or None


def client(uri: str | None) -> Any:
    """An ``MlflowClient`` for ``uri`` (call it within :func:`quick`)."""
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri, registry_uri=uri)


@contextmanager
def quick() -> Iterator[None]:
    """MLflow's calls within retry little, and print no links, unless the user's environment
    says otherwise; the environment is as it was after (a task's, or the next run's worker,
    never sees these)."""
    added = [name for name in _QUICK if name not in os.environ]
    os.environ.update({name: _QUICK[name] for name in added})
    try:
        yield
    finally:
        for name in added:
            os.environ.pop(name, None)
