"""merge_artifacts in a real run, where inputs' digests come from the store."""

from __future__ import annotations

from pathlib import Path

import flowkit
from flowkit import FlowSpec, step
from tests.runtime.test_shapes import Quiet


class ReadThenMergeFlow(FlowSpec):
    @step
    def start(self):
        self.config = {"lr": 0.1, "layers": [64, 32]}
        self.next(self.a, self.b)

    @step
    def a(self):
        self.side = "a"
        self.next(self.join)

    @step
    def b(self):
        self.side = "b"
        self.next(self.join)

    @step
    def join(self, inputs):
        self.lr = inputs.a.config["lr"]  # reading one input's copy loads it
        self.merge_artifacts(inputs, exclude=["side"])
        self.next(self.end)

    @step
    def end(self):
        pass


def test_reading_an_input_before_merging_is_not_a_conflict(tmp_path: Path) -> None:
    run = flowkit.run(ReadThenMergeFlow, store=str(tmp_path), progress=Quiet())
    assert run.successful
    assert run.data.config == {"lr": 0.1, "layers": [64, 32]} and run.data.lr == 0.1
