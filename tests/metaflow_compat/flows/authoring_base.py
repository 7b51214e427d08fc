"""A base flow class in a module of its own, as Metaflow 2.13+ allows: shared parameters
and steps, no start or end."""

from flowkit import FlowSpec, Parameter, step

MARK = "v1"


class BaseFlow(FlowSpec):
    """Shared parameters and steps."""

    scale = Parameter("scale", default=2)

    @step
    def prepare(self):
        """Prepare the data."""
        self.base_mark = MARK
        self.data = [x * self.scale for x in (1, 2, 3)]
        self.next(self.train)

    @step
    def train(self):
        self.model = "base"
        self.next(self.end)

    @step
    def end(self):
        self.total = sum(self.data)
