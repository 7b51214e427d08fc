"""A switch chooses one branch at run time; the branches meet again without a join."""

from flowkit import FlowSpec, Parameter, step

EXPECTED = {"end": {"route": "high", "size": 50}}


class SwitchFlow(FlowSpec):
    size = Parameter("size", default=50)

    @step
    def start(self):
        self.level = "high" if self.size > 10 else "low"
        self.next({"high": self.high, "low": self.low}, condition="level")

    @step
    def high(self):
        self.route = "high"
        self.next(self.end)

    @step
    def low(self):
        self.route = "low"
        self.next(self.end)

    @step
    def end(self):
        pass
