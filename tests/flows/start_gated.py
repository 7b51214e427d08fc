"""With ``gate`` set, ``start`` creates ``<gate>.waiting`` and waits until the file ``gate``
exists before it reads ``value``: until then only the run's start record names the
parameters' blobs (gc tests collect garbage meanwhile)."""

import os
import time
from pathlib import Path

from flowkit import FlowSpec, Parameter, step


class StartGatedFlow(FlowSpec):
    gate = Parameter("gate", default="")
    value = Parameter("value", default=1)

    @step
    def start(self):
        if self.gate:
            Path(f"{self.gate}.waiting").write_text("waiting")
            while not os.path.exists(self.gate):
                time.sleep(0.05)
        self.got = self.value * 10
        self.next(self.end)

    @step
    def end(self):
        pass
