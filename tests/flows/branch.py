"""Static split and join with merge_artifacts and inputs by step name."""

from flowkit import FlowSpec, step

EXPECTED = {"join": {"from_a": 10, "from_b": 20, "common": "same", "both": [10, 20]}}


class BranchFlow(FlowSpec):
    @step
    def start(self):
        self.common = "same"
        self.next(self.a, self.b)

    @step
    def a(self):
        self.x = 10
        self.next(self.join)

    @step
    def b(self):
        self.x = 20
        self.next(self.join)

    @step
    def join(self, inputs):
        self.from_a, self.from_b = inputs.a.x, inputs.b.x
        self.both = [i.x for i in inputs]
        self.merge_artifacts(inputs, exclude=["x"])
        self.next(self.end)

    @step
    def end(self):
        pass
