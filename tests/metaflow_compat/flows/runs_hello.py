"""A Metaflow-style flow for the run, dump, logs and Runner tests: a parameter, output on
both streams, a large artifact, and a foreach with three tasks."""

import sys
import time

from flowkit import FlowSpec, Parameter, current, step


class RunsHelloFlow(FlowSpec):
    alpha = Parameter("alpha", default=1)
    fail_in = Parameter("fail_in", default="", help="name a step to make it fail")
    sleep = Parameter("sleep", default=0.0, help="seconds the start step sleeps")

    @step
    def start(self):
        time.sleep(self.sleep)
        print(f"hello {self.alpha}")
        print("to stderr", file=sys.stderr)
        self.doubled = self.alpha * 2
        self.big = "x" * 5000
        self.items = [1, 2, 3]
        self.next(self.square, foreach="items")

    @step
    def square(self):
        if self.fail_in == "square":
            raise ValueError("square was told to fail")
        self.value = self.input**2
        print(f"square {self.value} attempt {current.retry_count}")
        if self.fail_in == "first-try" and current.retry_count == 0:
            raise ValueError("the first try fails")
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.value for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        print(f"total {self.total}")


if __name__ == "__main__":
    RunsHelloFlow()
