"""Flows the web UI's tests run.

``UiShowcaseFlow``: a foreach whose tasks print to stdout and stderr, then a join that stores
a DataFrame, an array, a PNG image (bytes) and plain values. ``UiLiveFlow``: a run that stays
in progress, printing a line every tenth of a second, until the file ``gate`` exists, so a
test can watch its page update. A failing and resumed run uses
:class:`tests.flows.failures.FixableFlow`.
"""

import os
import struct
import sys
import time
import zlib

from flowkit import FlowSpec, Parameter, step


def tiny_png(width: int, height: int) -> bytes:
    """A valid RGB PNG of a red-to-blue gradient, written without an imaging library."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(
        b"\x00"
        + b"".join(bytes((255 * x // width, 40, 255 - 255 * x // width)) for x in range(width))
        for _ in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


class UiShowcaseFlow(FlowSpec):
    width = Parameter("width", default=4)
    label = Parameter("label", default="baseline")

    @step
    def start(self):
        self.items = list(range(self.width))
        print(f"preparing {self.width} items for {self.label}")
        self.next(self.train, foreach="items")

    @step
    def train(self):
        self.score = (self.input + 1) * 0.25
        print(f"item {self.input}: score {self.score}")
        print(f"item {self.input}: done", file=sys.stderr)
        self.next(self.join)

    @step
    def join(self, inputs):
        import numpy as np
        import pandas as pd

        self.scores = [i.score for i in inputs]
        self.table = pd.DataFrame(
            {"item": list(range(len(self.scores))), "score": self.scores, "label": self.label}
        )
        self.matrix = np.arange(12, dtype="float64").reshape(3, 4)
        self.chart = tiny_png(48, 24)
        self.note = f"best of {len(self.scores)} for {self.label}"
        self.next(self.end)

    @step
    def end(self):
        self.best = max(self.scores)


class UiLiveFlow(FlowSpec):
    gate = Parameter("gate", default="")

    @step
    def start(self):
        print("live run starting")
        self.next(self.wait)

    @step
    def wait(self):
        beat = 0
        while not os.path.exists(self.gate):
            print(f"still waiting, beat {beat}", flush=True)
            beat += 1
            time.sleep(0.1)
        print("the gate opened")
        self.next(self.end)

    @step
    def end(self):
        print("live run done")
