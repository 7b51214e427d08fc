"""A scheduled flow with @retry and @timeout, and a static split: how they map to Airflow."""

from flowkit import FlowSpec, retry, schedule, step, timeout, trigger_on_finish


@trigger_on_finish(flow="IngestFlow")
@schedule(cron="30 2 * * *", timezone="Europe/Berlin")
class DecoratedFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.left, self.right)

    @retry(times=3, backoff=2, max_delay=30)
    @step
    def left(self):
        self.side = "left"
        self.next(self.join)

    @timeout(seconds=10)
    @step
    def right(self):
        self.side = "right"
        self.next(self.join)

    @step
    def join(self, inputs):
        self.sides = sorted(i.side for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass
