"""A foreach split step that fails; ``@catch`` stores the error and the flow still fans out
over the set the step inherited."""

from flowkit import FlowSpec, catch, step


class ForeachCaughtFlow(FlowSpec):
    @step
    def start(self):
        self.items = {"x", "y", "z"}
        self.next(self.split)

    @catch(var="error", print_exception=False)
    @step
    def split(self):
        raise RuntimeError("split failed")
        self.next(self.each, foreach="items")

    @step
    def each(self):
        self.item = self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.items_seen = sorted(i.item for i in inputs)
        self.caught = [str(i.error) for i in inputs][:1]
        self.next(self.end)

    @step
    def end(self):
        pass
