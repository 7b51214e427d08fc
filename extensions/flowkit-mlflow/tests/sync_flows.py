"""Flows for the sync and log_model tests. LegacyFlow's task record holds metrics MLflow refuses,
as records from before flowkit checked names do, and an artifact of a class of this module (that
a sync run elsewhere cannot unpickle). ModelFlow registers a plain object with a predict method.
This module imports nothing of MLflow (log_model does, in the task that calls it)."""

import time

from flowkit import FlowSpec, Parameter, current, step
from flowkit.authoring import metrics
from flowkit_mlflow import log_model


class Point:
    def __init__(self, x):
        self.x = x

    def __repr__(self):
        return f"Point({self.x})"


class Scaler:
    """A model of no MLflow flavor: scales its input."""

    def __init__(self, k):
        self.k = k

    def predict(self, model_input):
        return [self.k * v for v in model_input]


class LegacyFlow(FlowSpec):
    count = Parameter("count", default=3)

    @step
    def start(self):
        for i in range(self.count):
            current.log_metric("m", float(i), step=i)
        stamp = int(time.time() * 1000)
        # as a record from before log_metric refused them holds: MLflow refuses these
        metrics._LOGGED.extend([("acc@top5", 0.5, 0, stamp), ("big", 1.0, 2**70, stamp)])
        self.point = Point(3)
        self.next(self.end)

    @step
    def end(self):
        pass


class ModelFlow(FlowSpec):
    model_name = Parameter("model_name", default="scaler")

    @step
    def start(self):
        self.model = Scaler(3)
        self.version = log_model(self.model, name=self.model_name)
        self.next(self.end)

    @step
    def end(self):
        pass
