"""A foreach over a set, a dict, a generator or a range (parameter ``kind``) of six words;
the branch whose word is FLOWKIT_TEST_FAIL_WORD fails (for resume tests)."""

import os

from flowkit import FlowSpec, Parameter, step

WORDS = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta"]


def fan_value(kind):
    if kind == "set":
        return set(WORDS)
    if kind == "dict":
        return {word: len(word) for word in WORDS}
    if kind == "generator":
        return (word for word in WORDS)
    return range(len(WORDS))


class ForeachKindsFlow(FlowSpec):
    kind = Parameter("kind", default="set")

    @step
    def start(self):
        self.items = fan_value(self.kind)
        self.next(self.each, foreach="items")

    @step
    def each(self):
        self.word = WORDS[self.input] if self.kind == "range" else self.input
        if self.word == os.environ.get("FLOWKIT_TEST_FAIL_WORD"):
            raise RuntimeError(f"told to fail on {self.word}")
        self.position = self.index
        self.next(self.join)

    @step
    def join(self, inputs):
        self.words = [i.word for i in inputs]
        self.inputs_seen = [i.input for i in inputs]
        self.positions = [i.position for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ForeachKindsFlow()
