"""Flows the client tests read back, written as a Metaflow user writes them (only the import
line differs): a foreach with a ``@catch`` branch, a static split and join, and a step that
fails when told to. ``start`` keeps the namespace its step saw."""

from flowkit import FlowSpec, Parameter, catch, get_namespace, step


class ClientFlow(FlowSpec):
    fail = Parameter("fail", default="")

    @step
    def start(self):
        self.items = [1, 2, 3]
        self.seen_namespace = get_namespace()  # what the client filters by inside a step
        self.next(self.each, foreach="items")

    @catch(var="oops")
    @step
    def each(self):
        if self.input == 2 and self.fail == "caught":
            raise ValueError("two is caught")
        self.doubled = self.input * 2
        self.next(self.gather)

    @step
    def gather(self, inputs):
        self.total = sum(getattr(i, "doubled", 0) for i in inputs)
        self.next(self.left, self.right)

    @step
    def left(self):
        self.side = "left"
        self.next(self.meet)

    @step
    def right(self):
        if self.fail == "right":
            raise RuntimeError("the right side broke")
        self.side = "right"
        self.next(self.meet)

    @step
    def meet(self, inputs):
        self.sides = sorted(i.side for i in inputs)
        self.total = inputs[0].total
        self.next(self.end)

    @step
    def end(self):
        self.answer = self.total * 10
