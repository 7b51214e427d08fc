"""A flow whose start sleeps until it is cancelled (Ctrl-C): its MLflow runs end KILLED."""

import time

from flowkit import FlowSpec, step


class SleepFlow(FlowSpec):
    @step
    def start(self):
        time.sleep(120)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    SleepFlow()
