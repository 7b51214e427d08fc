"""A foreach with a two-step body, a fan-in join and a parameter: exported to Airflow."""

from flowkit import FlowSpec, Parameter, step


class ForeachFlow(FlowSpec):
    shift_by = Parameter("shift_by", default=10)

    @step
    def start(self):
        self.items = [1, 2, 3]
        self.next(self.square, foreach="items")

    @step
    def square(self):
        self.value = self.input * self.input
        self.next(self.shift)

    @step
    def shift(self):
        self.value = self.value + self.shift_by
        self.next(self.join)

    @step
    def join(self, inputs):
        self.values = [i.value for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        self.total = sum(self.values)


if __name__ == "__main__":
    ForeachFlow()
