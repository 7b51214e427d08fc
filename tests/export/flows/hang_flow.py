"""A step whose first attempt runs until it is stopped (a later one ends at once): what
Airflow stopping its task, or its task's process dying, does to it."""

import time

from flowkit import FlowSpec, current, step


class HangFlow(FlowSpec):
    """A step whose first attempt runs until it is stopped."""

    @step
    def start(self):
        self.next(self.hang)

    @step
    def hang(self):
        if current.retry_count == 0:
            time.sleep(300)
        self.next(self.end)

    @step
    def end(self):
        pass
