"""A step whose first attempt fails, retried as many times as its config says."""

from flowkit import Config, FlowSpec, current, retry, step


class ConfigRetryFlow(FlowSpec):
    cfg = Config("cfg", default_value={"retries": 1})

    @retry(times=cfg.retries, backoff=0)
    @step
    def start(self):
        if current.retry_count == 0:
            raise RuntimeError("the first attempt fails")
        self.attempts = current.retry_count + 1
        self.next(self.end)

    @step
    def end(self):
        pass
