"""A flow without @track: tracked only when a run asks (--with mlflow, the hooks setting).
Its module imports nothing of MLflow, so a run of it shows whether flowkit does."""

from flowkit import FlowSpec, current, step


class PlainFlow(FlowSpec):
    @step
    def start(self):
        current.log_metric("seen", 1.0)
        self.greeting = "hello"
        self.next(self.end)

    @step
    def end(self):
        pass
