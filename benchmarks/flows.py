"""The benchmark flows and client scripts, each written once against flowkit's import line."""

from __future__ import annotations

HELLO = """\
from flowkit import FlowSpec, step


class HelloFlow(FlowSpec):
    @step
    def start(self):
        self.message = "hello"
        self.next(self.middle)

    @step
    def middle(self):
        self.message += " world"
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    HelloFlow()
"""

FOREACH = """\
from flowkit import FlowSpec, Parameter, step


class FanFlow(FlowSpec):
    n = Parameter("n", default=10)

    @step
    def start(self):
        self.items = list(range(self.n))
        self.next(self.work, foreach="items")

    @step
    def work(self):
        self.value = self.input * 2
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.value for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    FanFlow()
"""

ARRAY = """\
import numpy as np

from flowkit import FlowSpec, Parameter, step


class ArrayFlow(FlowSpec):
    megabytes = Parameter("megabytes", default=500)

    @step
    def start(self):
        # seeded, so a second run makes the same bytes and a content-addressed store dedups them
        count = self.megabytes * 10**6 // 8
        self.array = np.random.default_rng(0).random(count)
        self.next(self.total)

    @step
    def total(self):
        self.sum = float(self.array.sum())
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ArrayFlow()
"""

#: The array flow's work in plain Python, no flowkit: the floor its overhead is measured from.
ARRAY_PLAIN = """\
import sys

import numpy as np

count = int(sys.argv[1]) * 10**6 // 8
array = np.random.default_rng(0).random(count)
total = float(array.sum())
"""

LINEAR_HEAD = """\
import os

from flowkit import FlowSpec, current, step


def maybe_fail():
    # resume benchmark: the first run is told to fail at one step
    if os.environ.get("BENCH_FAIL_AT") == current.step_name:
        raise RuntimeError("told to fail at " + current.step_name)


class LinearFlow(FlowSpec):
"""


def linear(steps: int) -> str:
    """A linear flow of ``steps`` steps: start, s02 ... s<steps-1>, end."""
    names = ["start", *[f"s{i:02d}" for i in range(2, steps)], "end"]
    body = [LINEAR_HEAD]
    for name, following in zip(names, [*names[1:], None], strict=True):
        body.append(
            "    @step\n"
            f"    def {name}(self):\n"
            "        maybe_fail()\n"
            f"        self.trail = getattr(self, 'trail', []) + [{name!r}]\n"
            + (f"        self.next(self.{following})\n\n" if following else "\n")
        )
    body.append('\nif __name__ == "__main__":\n    LinearFlow()\n')
    return "".join(body)


def fail_step(steps: int) -> str:
    """The name :func:`linear` gives its second-to-last step (step 19 of 20)."""
    return f"s{steps - 1:02d}"


CLIENT_LATEST = """\
from flowkit import Flow

assert Flow("HelloFlow").latest_run.data.message == "hello world"
"""

CLIENT_TASKS = """\
import sys

from flowkit import Flow

tasks = list(Flow("FanFlow").latest_run["work"])
total = sum(task.data.value for task in tasks)
assert len(tasks) == int(sys.argv[1]), len(tasks)
assert total == sum(2 * i for i in range(len(tasks))), total
"""

CLIENT_RUNS = """\
import sys

from flowkit import Flow

runs = list(Flow("HelloFlow").runs())
assert len(runs) >= int(sys.argv[1]), len(runs)
"""
