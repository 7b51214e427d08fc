"""A flow the scheduler starts every day at 02:00 Berlin time; it records what fired it."""

from flowkit import FlowSpec, Parameter, current, schedule, step


@schedule(cron="0 2 * * *", timezone="Europe/Berlin")
class NightlyFlow(FlowSpec):
    size = Parameter("size", default=3)

    @step
    def start(self):
        self.rows = list(range(int(self.size)))
        self.trigger = current.trigger
        self.slot = current.scheduled_at
        self.tags = sorted(current.tags) if hasattr(current, "tags") else []
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    NightlyFlow()
