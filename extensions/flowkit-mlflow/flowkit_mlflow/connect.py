"""The MLflow client a run is logged with: the tracking URI the user chose, HTTP retries short
enough that a server that is down costs a run seconds, not minutes (:func:`quick`), and what an
error from MLflow means for the user (:func:`problem`)."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

#: MLflow retries a refused request 7 times with growing waits by default (minutes in all);
#: a tracker that is down must not hold the run's end that long. The user's own settings of
#: these variables win.
_QUICK = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": 1,
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": 1,
    "MLFLOW_HTTP_REQUEST_TIMEOUT": 20,
    # each set_terminated would print two lines of links (and read the run again to make them)
    "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": True,
}
#: log_model's first call, in a task: a server that accepts and never answers costs it seconds.
PROBE = {**_QUICK, "MLFLOW_HTTP_REQUEST_MAX_RETRIES": 0, "MLFLOW_HTTP_REQUEST_TIMEOUT": 5}
_local = threading.local()
_installed = threading.Lock()


def tracking_uri(given: str | None) -> str | None:
    """The URI to log to: the one given (``@track``, the setting, ``--tracking-uri``), else
    ``MLFLOW_TRACKING_URI`` (None: MLflow's own default)."""
    return given or os.environ.get("MLFLOW_TRACKING_URI") or None


def client(uri: str | None) -> Any:
    """An ``MlflowClient`` for ``uri`` (call it within :func:`quick`)."""
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri, registry_uri=uri)


@contextmanager
def quick(values: dict[str, Any] | None = None) -> Iterator[None]:
    """MLflow's calls made in this thread within retry little, and print no links, unless the
    user's environment says otherwise. Nothing process-wide changes: ``os.environ`` stays as
    it is (a task started meanwhile, a worker spawned by another thread, never sees these);
    MLflow reads each of these settings through one object, whose ``get`` answers for this
    thread alone."""
    _install()
    before = getattr(_local, "values", None)
    _local.values = _QUICK if values is None else values
    try:
        yield
    finally:
        _local.values = before


def _install() -> None:
    import mlflow.environment_variables as variables

    with _installed:
        for name in _QUICK:
            # a release of MLflow that renames or drops one of these loses only its speed-up,
            # never the run: its own default then applies
            variable: Any = getattr(variables, name, None)
            if not callable(getattr(variable, "get", None)) or getattr(
                variable, "_flowkit_quick", False
            ):
                continue
            variable.get = _thread_get(variable, type(variable).get)
            variable._flowkit_quick = True


def _thread_get(variable: Any, original: Any) -> Any:
    def get() -> Any:
        values = getattr(_local, "values", None)
        if values is None or variable.name in os.environ or variable.name not in values:
            return original(variable)
        return values[variable.name]

    return get


def problem(exc: BaseException, where: str, then: str) -> tuple[str, str]:
    """What ``exc`` (raised by MLflow, talking to ``where``) says, and a hint that tells a
    tracker that cannot be reached (connection refused, timeout, a server error) from one
    that refused what it was sent (a 4xx: a bad name, a deleted experiment); ``then`` is what
    to run once fixed."""
    said = str(exc).splitlines()[0][:300] if str(exc) else ""
    text = f"{type(exc).__name__}: {said}"
    code = refused(exc)
    if code is not None:
        return text, (
            f"MLflow at {where} refused it ({code}): fix what it names (the experiment, a "
            f"name, a value), then: {then}"
        )
    if _unreachable(exc):
        return text, f"once MLflow is reachable at {where}: {then}"
    return text, f"this is not a connection problem; once it is fixed: {then}"


def refused(exc: BaseException) -> str | None:
    """The error code of an MLflow refusal (a request it understood and will not take, a
    4xx), None for anything else."""
    from mlflow.exceptions import MlflowException

    if not isinstance(exc, MlflowException):
        return None
    status = exc.get_http_status_code()
    return str(exc.error_code) if 400 <= status < 500 else None


def _unreachable(exc: BaseException) -> bool:
    from mlflow.exceptions import MlflowException

    if isinstance(exc, OSError | TimeoutError):
        return True
    return isinstance(exc, MlflowException) and exc.get_http_status_code() >= 500
