"""A step that always fails, retried more times than ``2**attempt`` fits in a float."""

from flowkit import FlowSpec, retry, step


class EndlessRetryFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.boom)

    @retry(times=1100, backoff=0)
    @step
    def boom(self):
        raise ValueError("boom always fails")
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    EndlessRetryFlow()
