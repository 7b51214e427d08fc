"""A foreach and a join whose steps can run on different executors.

``join`` is pinned to the local executor (``@local``, a decorator made with the executor
factory), so ``--with NAME`` sends every other step to NAME and the run mixes the two.
``SlurmFlow`` asks for a backend that is not installed.
"""

from flowkit import FlowSpec, Parameter, slurm, step
from flowkit.authoring.decorators import executor_decorator

local = executor_decorator("local")


class MixedFlow(FlowSpec):
    n = Parameter("n", default=5)

    @step
    def start(self):
        self.items = [f"item-{i}" for i in range(self.n)]
        self.next(self.work, foreach="items")

    @step
    def work(self):
        self.value = len(self.input) * (self.index + 1)
        self.label = self.input.upper()
        self.next(self.join)

    @local
    @step
    def join(self, inputs):
        self.total = sum(i.value for i in inputs)
        self.labels = [i.label for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        self.summary = f"{self.total}/{len(self.labels)}"


class SlurmFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @slurm(partition="gpu")
    @step
    def end(self):
        pass


if __name__ == "__main__":
    MixedFlow()
