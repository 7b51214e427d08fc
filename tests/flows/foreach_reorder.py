"""A foreach over a value that pickles the same in every process but iterates backwards when
FLOWKIT_TEST_REVERSE is set; the branch whose word is FLOWKIT_TEST_FAIL_WORD fails. The
split step always runs (``@no_cache``), so ``run --reuse`` freezes the items again."""

import os

from flowkit import FlowSpec, no_cache, step

WORDS = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta"]


class Words:
    def __iter__(self):
        return iter(WORDS[::-1] if os.environ.get("FLOWKIT_TEST_REVERSE") else WORDS)


class ForeachReorderFlow(FlowSpec):
    @no_cache
    @step
    def start(self):
        self.items = Words()
        self.next(self.each, foreach="items")

    @step
    def each(self):
        if self.input == os.environ.get("FLOWKIT_TEST_FAIL_WORD"):
            raise RuntimeError(f"told to fail on {self.input}")
        self.word = self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.words = [i.word for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        pass
