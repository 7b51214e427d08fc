"""``@track``: the flow class decorator that enables the MLflow run hook for every run."""

from __future__ import annotations

from typing import Any, TypeVar

from flowkit.errors import FlowkitError
from flowkit.runtime.hooks import HOOKS_ATTR

C = TypeVar("C", bound=type)

#: The hook's name: its ``flowkit.hooks`` entry point, ``--with mlflow``, the setting's key.
NAME = "mlflow"


def track(
    experiment: str | None = None,
    *,
    tracking_uri: str | None = None,
    values: bool = False,
) -> Any:
    """Log every run of the decorated flow to MLflow: in ``experiment`` (default: the flow's
    name), at ``tracking_uri`` (default: ``MLFLOW_TRACKING_URI``); ``values=True`` logs the
    artifacts' values (their repr, cut short) besides their names, types and sizes."""
    if experiment is not None and (not isinstance(experiment, str) or not experiment):
        raise FlowkitError(
            f"@track(experiment={experiment!r}): the experiment is a non-empty string",
            '@track(experiment="ranking"), or leave it out for the flow\'s name',
        )
    args: dict[str, Any] = {"values": values}
    if experiment is not None:
        args["experiment"] = experiment
    if tracking_uri is not None:
        args["tracking_uri"] = tracking_uri

    def apply(cls: C) -> C:
        if not isinstance(cls, type):
            raise FlowkitError(
                f"@track decorates a flow class, not {type(cls).__name__}",
                "put @track(...) above 'class MyFlow(FlowSpec):'",
            )
        hooks = dict(cls.__dict__.get(HOOKS_ATTR, {}))
        hooks[NAME] = args
        setattr(cls, HOOKS_ATTR, hooks)
        return cls

    return apply
