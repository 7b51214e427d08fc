"""A step that assigns to a parameter: an AttributeError in the step, as in Metaflow."""

from flowkit import FlowSpec, Parameter, step


class AssignParamFlow(FlowSpec):
    alpha = Parameter("alpha", default=0.5)

    @step
    def start(self):
        self.before = 1
        self.alpha = 2  # the failing line
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    AssignParamFlow()
