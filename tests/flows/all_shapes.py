"""Every transition kind in one flow: split, merge_artifacts, foreach, nested foreach, switch,
recursion. Used by the graph tests from a file, from exec and from a Jupyter kernel."""

from flowkit import FlowSpec, Parameter, catch, resources, retry, step


class AllShapesFlow(FlowSpec):
    """A flow that uses every kind of transition."""

    rounds = Parameter("rounds", default=2, help="how often the loop repeats")

    @step
    def start(self):
        """Begin."""
        self.shared = 1
        self.next(self.left, self.right)

    @step
    def left(self):
        self.side = "L"
        self.next(self.merge)

    @retry(times=2)
    @step
    def right(self):
        self.side = "R"
        self.next(self.merge)

    @step
    def merge(self, inputs):
        self.sides = sorted(i.side for i in inputs)
        self.merge_artifacts(inputs, exclude=["side"])
        self.outer = [1, 2]
        self.next(self.fan, foreach="outer")

    @step
    def fan(self):
        self.inner = ["a", "b"]
        self.next(self.leaf, foreach="inner")

    @resources(cpu=1, memory=512)
    @step
    def leaf(self):
        self.pair = (self.foreach_stack()[0][2], self.input)
        self.next(self.inner_join)

    @step
    def inner_join(self, inputs):
        self.pairs = [i.pair for i in inputs]
        self.next(self.outer_join)

    @step
    def outer_join(self, inputs):
        self.all_pairs = [p for i in inputs for p in i.pairs]
        self.count = 0
        self.next(self.loop)

    @step
    def loop(self):
        self.count += 1
        self.again = "yes" if self.count < self.rounds else "no"
        self.next({"yes": self.loop, "no": self.choose}, condition="again")

    @step
    def choose(self):
        self.mode = "big" if len(self.all_pairs) > 2 else "small"
        self.next({"big": self.big, "small": self.small}, condition="mode")

    @catch(var="big_error")
    @step
    def big(self):
        self.label = "big"
        self.next(self.end)

    @step
    def small(self):
        self.label = "small"
        self.next(self.end)

    @step
    def end(self):
        """Finish."""


if __name__ == "__main__":
    AllShapesFlow()
