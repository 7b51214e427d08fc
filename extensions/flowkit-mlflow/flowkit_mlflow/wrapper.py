"""The python model :func:`flowkit_mlflow.log_model` stores an object of no MLflow flavor in.

Pickled by value with the object (this module imports nothing of flowkit's), so that MLflow
loads it where neither flowkit-mlflow nor the flow's file is. ``predict`` has no type hints:
the wrapper cannot know its model's input type (MLflow's warning that it has none is kept
quiet by ``log_model``).
"""

from typing import Any

import mlflow.pyfunc


class Pickled(mlflow.pyfunc.PythonModel):  # type: ignore[misc]
    """An object with a ``predict`` method, pickled whole; MLflow's ``predict`` calls it."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def predict(self, context, model_input, params=None):  # type: ignore[no-untyped-def]
        return self.model.predict(model_input)
