"""A static split whose branches differ in length, the longer one a foreach: the DAG must
define every task before a task that follows it (the graph's breadth-first order reaches
the join from the short branch first). A parameter, given as the DAG run's conf."""

from flowkit import FlowSpec, Parameter, step


class UnevenFlow(FlowSpec):
    shift_by = Parameter("shift_by", default=1)

    @step
    def start(self):
        self.next(self.a, self.b)

    @step
    def a(self):
        self.value = 10
        self.next(self.a2)

    @step
    def a2(self):
        self.value = self.value * 2 + 1
        self.next(self.join)

    @step
    def b(self):
        self.items = [1, 2, 3]
        self.next(self.body, foreach="items")

    @step
    def body(self):
        self.square = self.input * self.input
        print(f"body of item {self.input}: {self.square}")
        self.next(self.body2)

    @step
    def body2(self):
        self.square += self.shift_by
        self.next(self.b_join)

    @step
    def b_join(self, inputs):
        self.value = sum(i.square for i in inputs)
        self.next(self.join)

    @step
    def join(self, inputs):
        self.values = sorted(i.value for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        self.total = sum(self.values)


if __name__ == "__main__":
    UnevenFlow()
