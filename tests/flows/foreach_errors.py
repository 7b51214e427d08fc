"""A foreach over a bad value (parameter ``what``): an empty list, a number, or five items
(more than a low ``max_num_splits``)."""

from flowkit import FlowSpec, Parameter, step

VALUES = {"empty": [], "number": 7, "five": [1, 2, 3, 4, 5]}


class ForeachErrorsFlow(FlowSpec):
    what = Parameter("what", default="five")

    @step
    def start(self):
        self.items = VALUES[self.what]
        self.next(self.each, foreach="items")

    @step
    def each(self):
        self.value = self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.values = [i.value for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ForeachErrorsFlow()
