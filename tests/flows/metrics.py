"""Steps that log metrics: a loop of them in a foreach, a join that logs none, and bad ones."""

from flowkit import FlowSpec, Parameter, current, step


class MetricsFlow(FlowSpec):
    epochs = Parameter("epochs", default=5)
    bad = Parameter("bad", default="")

    @step
    def start(self):
        current.log_metric("setup", 1)
        self.rates = [0.5, 2.0]
        self.next(self.train, foreach="rates")

    @step
    def train(self):
        for epoch in range(self.epochs):
            current.log_metric("loss", self.input / (epoch + 1), step=epoch)
        current.log_metrics({"final": self.input, "epochs": self.epochs})
        if self.bad == "value":
            current.log_metric("loss", "high")
        if self.bad == "step":
            current.log_metric("loss", 1.0, step="one")
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass
