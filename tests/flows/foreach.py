"""A foreach of N items (parameter ``n``), squared in parallel and summed in the join."""

from flowkit import FlowSpec, Parameter, step

EXPECTED = {"join": {"total": sum(i * i for i in range(12)), "order": list(range(12))}}


class ForeachFlow(FlowSpec):
    n = Parameter("n", default=12)

    @step
    def start(self):
        self.items = list(range(self.n))
        self.next(self.square, foreach="items")

    @step
    def square(self):
        self.value = self.input * self.input
        self.position = self.index
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.value for i in inputs)
        self.order = [i.position for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        pass
