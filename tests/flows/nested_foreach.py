"""Nested foreach: every (letter, number) pair, joined inner then outer."""

from flowkit import FlowSpec, step

EXPECTED = {
    "outer_join": {"pairs": [["a", 1], ["a", 2], ["b", 1], ["b", 2], ["c", 1], ["c", 2]]},
}


class NestedForeachFlow(FlowSpec):
    @step
    def start(self):
        self.letters = ["a", "b", "c"]
        self.next(self.outer, foreach="letters")

    @step
    def outer(self):
        self.numbers = [1, 2]
        self.next(self.inner, foreach="numbers")

    @step
    def inner(self):
        stack = self.foreach_stack()
        self.pair = [stack[0][2], self.input]
        self.next(self.inner_join)

    @step
    def inner_join(self, inputs):
        self.pairs = [i.pair for i in inputs]
        self.next(self.outer_join)

    @step
    def outer_join(self, inputs):
        self.pairs = [p for i in inputs for p in i.pairs]
        self.next(self.end)

    @step
    def end(self):
        pass
