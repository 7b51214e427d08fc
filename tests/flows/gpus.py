"""GPU tasks in a foreach: each records the GPU it was given and when it held it."""

import os
import time

from flowkit import FlowSpec, Parameter, resources, step


class GpuFlow(FlowSpec):
    per_task = Parameter("per_task", default=1)

    @step
    def start(self):
        self.items = list(range(4))
        self.next(self.train, foreach="items")

    @resources(gpu=1, cpu=1)
    @step
    def train(self):
        self.gpus = os.environ.get("CUDA_VISIBLE_DEVICES")
        self.began = time.time()
        time.sleep(0.3)
        self.ended = time.time()
        self.next(self.join)

    @step
    def join(self, inputs):
        self.usage = [(i.gpus, i.began, i.ended) for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        pass
