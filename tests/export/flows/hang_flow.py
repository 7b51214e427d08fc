"""A step that runs until it is stopped: what Airflow stopping its task does to it."""

import time

from flowkit import FlowSpec, step


class HangFlow(FlowSpec):
    """A step that runs until it is stopped."""

    @step
    def start(self):
        self.next(self.hang)

    @step
    def hang(self):
        time.sleep(300)
        self.next(self.end)

    @step
    def end(self):
        pass
