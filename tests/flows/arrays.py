"""Arrays loaded by later steps: one only reads its array, one changes it in place."""

import numpy as np

from flowkit import FlowSpec, step

#: 4 MiB of float64, so the arrays live in memory the store tracks (flowkit.store.pages).
COUNT = 1 << 19


class ArraysFlow(FlowSpec):
    @step
    def start(self):
        self.read_only = np.random.default_rng(0).random(COUNT)
        self.changed = np.random.default_rng(1).random(COUNT)
        self.listed = [1, 2]
        self.next(self.use)

    @step
    def use(self):
        self.total = float(self.read_only.sum())
        self.changed[COUNT // 2] = -1.0
        self.listed.append(3)
        self.next(self.end)

    @step
    def end(self):
        assert self.changed[COUNT // 2] == -1.0 and self.listed == [1, 2, 3]
