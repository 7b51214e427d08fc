"""Recursion: a switch that goes back to its own step until a condition holds."""

from flowkit import FlowSpec, step

EXPECTED = {"end": {"count": 4, "history": [1, 2, 3, 4]}}


class RecursionFlow(FlowSpec):
    @step
    def start(self):
        self.count = 0
        self.history = []
        self.next(self.loop)

    @step
    def loop(self):
        self.count += 1
        self.history = [*self.history, self.count]
        self.again = "yes" if self.count < 4 else "no"
        self.next({"yes": self.loop, "no": self.end}, condition="again")

    @step
    def end(self):
        pass
