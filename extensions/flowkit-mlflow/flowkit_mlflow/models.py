"""``log_model``: a model stored with an MLflow flavor in the task's MLflow run, and a version
registered, tagged with the flowkit task it came from. The flowkit artifact stays the source of
truth; this is MLflow's copy, for its registry and serving."""

from __future__ import annotations

import re
import sys
import warnings
from typing import Any

from flowkit.authoring.current import current
from flowkit.errors import FlowkitError, NotInTaskError
from flowkit.runtime.hooks import task_arguments
from flowkit_mlflow.connect import PROBE, client, quick, tracking_uri
from flowkit_mlflow.sync import TAG_PATHSPEC
from flowkit_mlflow.track import NAME

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


#: MLflow's warnings that a python model's predict has no type hints, or hints it cannot check.
_HINTS = r"Add type hints|type hint is inferred"


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
    registered model ``name``, tagged ``flowkit.pathspec``. It logs where the run's ``mlflow``
    hook does (its tracking URI and experiment; ``experiment`` overrides). The version, as a
    string; None when not registered, or when MLflow could not be reached: that never fails the
    step (it says so on stderr, in the task's log), the flowkit artifact holding the model all
    the same."""
    try:
        pathspec = current.pathspec
    except NotInTaskError:
        raise NotInTaskError(
            f"log_model(name={name!r}) is called outside a running step",
            "call it inside a @step method while the flow runs, after setting the artifact",
        ) from None
    if not isinstance(name, str) or not name:
        raise FlowkitError(
            f"log_model(name={name!r}): the model's name is a non-empty string",
            'e.g. log_model(self.model, name="ranker")',
        )
    chosen = flavor or flavor_of(obj)
    if chosen == "pyfunc" and not callable(getattr(obj, "predict", None)):
        raise FlowkitError(
            f"log_model: the model '{name}' is a {type(obj).__name__} with no predict method, "
            "and of no type an MLflow flavor fits",
            "give an object with predict(model_input) (MLflow calls it to serve the model), "
            "or one of a library MLflow has a flavor for, or name it with flavor=",
        )
    import mlflow

    module = getattr(mlflow, chosen, None)
    if module is None or not hasattr(module, "log_model"):
        raise FlowkitError(
            f"log_model: MLflow has no flavor '{chosen}' (for {name})",
            "give flavor= one of MLflow's model flavors (sklearn, pytorch, pyfunc, ...)",
        )
    hook = task_arguments(NAME)
    uri = tracking_uri(hook.get("tracking_uri") if hook else None)
    where = uri or "MLflow's default tracking URI"
    if hook is None:
        print(
            f"flowkit-mlflow: log_model('{name}') in {pathspec}, a run MLflow does not track "
            f"(no @track, --with mlflow or hooks setting): the model goes to {where} in an "
            "MLflow run of its own, with no parent",
            file=sys.stderr,
            flush=True,
        )
    chosen_experiment = experiment or (hook.get("experiment") if hook else None)
    try:
        return _log(mlflow, module, obj, name, chosen, register, chosen_experiment, uri, pathspec)
    except Exception as exc:  # MLflow's many errors: the step goes on, the artifact holds it
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
    # the first call asks once, briefly: a server that accepts and never answers (or is
    # down) costs the step seconds, not MLflow's minutes of retries
    with quick(PROBE):
        run_id = _task_run(client(uri), experiment, pathspec)
    if uri:
        mlflow.set_tracking_uri(uri)
        mlflow.set_registry_uri(uri)
    with quick(), mlflow.start_run(run_id=run_id):
        if chosen == "pyfunc":
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                info = mlflow.pyfunc.log_model(name=name, python_model=_pickled(obj))
            for said in caught:  # but that the wrapper cannot know its model's input type
                if not re.search(_HINTS, str(said.message)):
                    warnings.warn_explicit(said.message, said.category, said.filename, said.lineno)
        else:
            info = module.log_model(obj, name=name)
    if not register:
        return None
    with quick():
        version = mlflow.register_model(info.model_uri, name, tags={TAG_PATHSPEC: pathspec})
    return str(version.version)


def _task_run(mlflow_client: Any, experiment: str | None, pathspec: str) -> str:
    """The task's MLflow run (the hook logs the rest of it there when the task ends), found by
    its tag or made, nested under the run's, in the run's experiment (``experiment``, else the
    flow's name)."""
    flow, run, step, task = pathspec.split("/")
    ids = [_experiment_id(mlflow_client, experiment or flow)]

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
    if parent is not None:  # else the hook, logging the task, nests it (see sync.Syncer.task)
        tags["mlflow.parentRunId"] = str(parent.info.run_id)
    made = mlflow_client.create_run(ids[0], tags=tags, run_name=f"{step}/{task}")
    return str(made.info.run_id)


def _experiment_id(mlflow_client: Any, name: str) -> str:
    found = mlflow_client.get_experiment_by_name(name)
    return str(found.experiment_id) if found else str(mlflow_client.create_experiment(name))


def _pickled(model: Any) -> Any:
    """A python model of no flavor MLflow knows: pickled whole, with its class (and the flow
    module that defines it) by value, so that it loads outside the flow's folder."""
    import cloudpickle

    from flowkit_mlflow import wrapper

    cloudpickle.register_pickle_by_value(wrapper)
    for cls in type(model).__mro__:
        owner = sys.modules.get(cls.__module__)
        if owner is not None and _users_code(owner):
            cloudpickle.register_pickle_by_value(owner)
    return wrapper.Pickled(model)


def _users_code(module: Any) -> bool:
    """A module of the user's (the flow's file, a module beside it), not an installed
    package's nor Python's own: those load by name wherever the model is served."""
    import sysconfig

    path = getattr(module, "__file__", None)
    if module.__name__ == "__main__" or not path:
        return False  # cloudpickle keeps __main__'s by value anyway
    installed = {sysconfig.get_paths()[k] for k in ("purelib", "platlib", "stdlib", "platstdlib")}
    return not any(path.startswith(p) for p in installed) and "site-packages" not in path
