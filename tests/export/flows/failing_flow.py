"""A flow whose middle step fails while $FLOWKIT_TEST_BREAK is set: one retry, then the run
fails; resumed without it, it succeeds."""

import os

from flowkit import FlowSpec, retry, step


class FailingFlow(FlowSpec):
    @step
    def start(self):
        self.base = 5
        self.next(self.work)

    @retry(times=1, backoff=0.1, max_delay=0.5)
    @step
    def work(self):
        if os.environ.get("FLOWKIT_TEST_BREAK"):
            raise ValueError("broken on purpose")
        self.result = self.base * 2
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    FailingFlow()
