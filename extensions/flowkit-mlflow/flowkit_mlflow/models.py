"""``log_model``: a model stored with an MLflow flavor in the task's MLflow run, and a version
registered, tagged with the flowkit task it came from. The flowkit artifact stays the source of
truth; this is MLflow's copy, for its registry and serving."""

from __future__ import annotations

import sys
from typing import Any

from flowkit.authoring.current import current
from flowkit.errors import FlowkitError
from flowkit_mlflow.connect import client, quick, tracking_uri
from flowkit_mlflow.sync import TAG_PATHSPEC

#: flavor -> the module that makes a model's type belong to it (its class's top package).
_BY_PACKAGE = {
    "sklearn": "sklearn",
    "torch": "pytorch",
    "xgboost": "xgboost",
    "lightgbm": "lightgbm",
    "tensorflow": "tensorflow",
    "keras": "keras",
    "statsmodels": "statsmodels",
}


def flavor_of(obj: Any) -> str:
    """The MLflow flavor that fits ``obj``'s type (its class's package, or any base's);
    ``pyfunc`` (pickled, through a python model) when none does."""
    for cls in type(obj).__mro__:
        found = _BY_PACKAGE.get(cls.__module__.partition(".")[0])
        if found is not None:
            return found
    return "pyfunc"


def log_model(
    obj: Any,
    name: str,
    *,
    register: bool = True,
    flavor: str | None = None,
    experiment: str | None = None,
) -> str | None:
    """Store ``obj`` in the running task's MLflow run (made here if the run hook has not yet)
    with ``flavor`` (default: the one its type fits); ``register`` makes it a version of the
    registered model ``name``, tagged ``flowkit.pathspec``. The version, as a string; None when
    not registered, or when MLflow could not be reached: that never fails the step (it says so on
    stderr, in the task's log), the flowkit artifact holding the model all the same."""
    import mlflow

    pathspec = current.pathspec  # raises outside a running step
    if not isinstance(name, str) or not name:
        raise FlowkitError(
            f"log_model(name={name!r}): the model's name is a non-empty string",
            'e.g. log_model(self.model, name="ranker")',
        )
    chosen = flavor or flavor_of(obj)
    module = getattr(mlflow, chosen, None)
    if module is None or not hasattr(module, "log_model"):
        raise FlowkitError(
            f"log_model: MLflow has no flavor '{chosen}' (for {name})",
            "give flavor= one of MLflow's model flavors (sklearn, pytorch, pyfunc, ...)",
        )
    uri = tracking_uri(None)
    try:
        with quick():
            return _log(mlflow, module, obj, name, chosen, register, experiment, uri, pathspec)
    except Exception as exc:  # MLflow's many errors: the step goes on, the artifact holds it
        where = uri or "MLflow's default tracking URI"
        print(
            f"flowkit-mlflow: model '{name}' of {pathspec} was not logged to MLflow at {where}: "
            f"{type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}; "
            "the flowkit artifact still holds it",
            file=sys.stderr,
            flush=True,
        )
        return None


def _log(
    mlflow: Any,
    module: Any,
    obj: Any,
    name: str,
    chosen: str,
    register: bool,
    experiment: str | None,
    uri: str | None,
    pathspec: str,
) -> str | None:
    run_id = _task_run(client(uri), experiment, pathspec)
    if uri:
        mlflow.set_tracking_uri(uri)
    with mlflow.start_run(run_id=run_id):
        if chosen == "pyfunc":
            info = mlflow.pyfunc.log_model(name=name, python_model=_pickled(obj))
        else:
            info = module.log_model(obj, name=name)
    if not register:
        return None
    version = mlflow.register_model(info.model_uri, name, tags={TAG_PATHSPEC: pathspec})
    return str(version.version)


def _task_run(mlflow_client: Any, experiment: str | None, pathspec: str) -> str:
    """The task's MLflow run (the hook logs the rest of it there when the task ends), found by
    its tag or made, nested under the run's, in the run's experiment (``experiment``, else the
    one the hook logs the run in, else the flow's name)."""
    flow, run, step, task = pathspec.split("/")
    if experiment is not None:
        ids = [_experiment_id(mlflow_client, experiment)]
    else:
        ids = [str(e.experiment_id) for e in mlflow_client.search_experiments()]

    def one(spec: str) -> Any | None:
        runs = mlflow_client.search_runs(
            ids, filter_string=f"tags.`{TAG_PATHSPEC}` = '{spec}'", max_results=1
        )
        return runs[0] if runs else None

    mine = one(pathspec)
    if mine is not None:
        return str(mine.info.run_id)
    parent = one(f"{flow}/{run}")
    tags = {TAG_PATHSPEC: pathspec}
    if parent is not None:
        tags["mlflow.parentRunId"] = str(parent.info.run_id)
        experiment_id = str(parent.info.experiment_id)
    else:
        experiment_id = _experiment_id(mlflow_client, experiment or flow)
    made = mlflow_client.create_run(experiment_id, tags=tags, run_name=f"{step}/{task}")
    return str(made.info.run_id)


def _experiment_id(mlflow_client: Any, name: str) -> str:
    found = mlflow_client.get_experiment_by_name(name)
    return str(found.experiment_id) if found else str(mlflow_client.create_experiment(name))


def _pickled(model: Any) -> Any:
    """A python model of no flavor MLflow knows: pickled whole, ``predict`` called through."""
    import mlflow.pyfunc

    class Pickled(mlflow.pyfunc.PythonModel):  # type: ignore[misc]
        def __init__(self, model: Any) -> None:
            self.model = model

        def predict(self, context: Any, model_input: Any, params: Any = None) -> Any:
            return self.model.predict(model_input)

    return Pickled(model)
