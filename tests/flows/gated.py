"""Prints in every step (its logs are read back); with ``gate`` set, ``middle`` creates
``<gate>.waiting`` and waits until the file ``gate`` exists, so a test can act while the
run is going (gc tests collect garbage meanwhile)."""

import os
import time
from pathlib import Path

from flowkit import FlowSpec, Parameter, step


class GatedFlow(FlowSpec):
    gate = Parameter("gate", default="")
    value = Parameter("value", default=1)

    @step
    def start(self):
        print(f"start {self.value}")
        self.data = list(range(self.value * 100))
        self.next(self.middle)

    @step
    def middle(self):
        print(f"middle {self.value}")
        if self.gate:
            Path(f"{self.gate}.waiting").write_text("waiting")
            while not os.path.exists(self.gate):
                time.sleep(0.05)
        self.fresh = f"fresh {self.value}"
        self.next(self.end)

    @step
    def end(self):
        print(f"end {self.value}")
