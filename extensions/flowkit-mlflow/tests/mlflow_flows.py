"""The flows the MLflow tests run: a foreach that trains one small model per learning rate,
logs a loss per epoch and registers each model; it fails at its join while ``gate`` names a
file that exists (for a resume to finish it). PlainFlow, with no tracking, is in plain_flow.py:
this module imports MLflow."""

import os

# imported here, by the warm worker that forks the tasks, not once by every task (seconds each)
import mlflow  # noqa: F401
import sklearn.linear_model

from flowkit import FlowSpec, Parameter, current, step
from flowkit_mlflow import log_model, track


@track(experiment="flowkit-tests")
class TrainFlow(FlowSpec):
    epochs = Parameter("epochs", default=4)
    gate = Parameter("gate", default="")
    model_name = Parameter("model_name", default="ranker")

    @step
    def start(self):
        self.rates = [0.5, 2.0]
        self.next(self.train, foreach="rates")

    @step
    def train(self):
        for epoch in range(self.epochs):
            current.log_metric("loss", self.input / (epoch + 1), step=epoch)
        current.log_metrics({"rate": self.input})
        self.model = sklearn.linear_model.LinearRegression().fit(
            [[0.0], [1.0], [2.0]], [0.0, self.input, 2 * self.input]
        )
        self.version = log_model(self.model, name=self.model_name)
        self.next(self.join)

    @step
    def join(self, inputs):
        if self.gate and os.path.exists(self.gate):
            raise RuntimeError(f"the gate {self.gate} is closed")
        self.versions = sorted(str(i.version) for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass
