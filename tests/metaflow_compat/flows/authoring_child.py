"""A flow that derives from a base flow in another module, adds start and overrides train."""

from authoring_base import BaseFlow

from flowkit import Parameter, step


class ChildFlow(BaseFlow):
    label = Parameter("label", default="child")

    @step
    def start(self):
        self.next(self.prepare)

    @step
    def train(self):
        self.model = f"child-{self.label}"
        self.next(self.end)


if __name__ == "__main__":
    ChildFlow()
