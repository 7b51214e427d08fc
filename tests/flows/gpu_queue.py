"""Three GPU tasks and a CPU branch: with one GPU and two worker slots, the GPU tasks queue
for the GPU while the CPU branch runs in the other slot (and under --fail-fast, a failure
withdraws the queued ones)."""

import os
import time

from flowkit import FlowSpec, resources, step


class GpuQueueFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2, 3]
        self.next(self.a, self.b)

    @step
    def a(self):
        self.next(self.gpu, foreach="items")

    @resources(gpu=1)
    @step
    def gpu(self):
        if os.environ.get("FLOWKIT_TEST_FAIL_GPU") == str(self.input):
            raise RuntimeError(f"gpu task {self.input} told to fail")
        time.sleep(float(os.environ.get("FLOWKIT_TEST_GPU_SECONDS", "1.0")))
        self.next(self.ja)

    @step
    def ja(self, inputs):
        self.next(self.join)

    @step
    def b(self):
        self.next(self.c)

    @step
    def c(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass
