"""A foreach of ``n`` splits; splits listed in FLOWKIT_TEST_FAIL_SPLITS fail, and ones listed
in FLOWKIT_TEST_SLOW_SPLITS sleep first (for resume and kill tests)."""

import os
import time

from flowkit import FlowSpec, Parameter, step


def _listed(name: str) -> set[int]:
    return {int(x) for x in os.environ.get(name, "").split(",") if x}


class FanoutFlow(FlowSpec):
    n = Parameter("n", default=20)
    scale = Parameter("scale", default=1)

    @step
    def start(self):
        self.items = list(range(self.n))
        self.next(self.work, foreach="items")

    @step
    def work(self):
        if self.index in _listed("FLOWKIT_TEST_SLOW_SPLITS"):
            time.sleep(float(os.environ.get("FLOWKIT_TEST_SLOW_SECONDS", "0.2")))
        if self.index in _listed("FLOWKIT_TEST_FAIL_SPLITS"):
            raise RuntimeError(f"split {self.index} told to fail")
        self.value = self.input * 10
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.value for i in inputs)
        self.next(self.scaled)

    @step
    def scaled(self):
        self.result = self.total * self.scale
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    FanoutFlow()
