"""Steps whose decorators the Airflow task command applies itself: @timeout kills, @catch
stores the exception and goes on, @retry's second attempt succeeds."""

import time

from flowkit import FlowSpec, catch, current, retry, step, timeout


class PolicyFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.slow, self.caught, self.flaky)

    @timeout(seconds=3)
    @step
    def slow(self):
        time.sleep(60)
        self.next(self.join)

    @catch(var="problem", print_exception=False)
    @step
    def caught(self):
        raise RuntimeError("caught on purpose")
        self.next(self.join)

    @retry(times=1, backoff=0.1)
    @step
    def flaky(self):
        if current.retry_count == 0:
            raise RuntimeError("first attempt fails")
        self.attempt_seen = current.retry_count
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass
