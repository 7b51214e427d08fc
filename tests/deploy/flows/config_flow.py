"""A flow whose schedule and event come from its config (``cron=config_expr(...)``)."""

from flowkit import Config, FlowSpec, config_expr, schedule, step, trigger


@schedule(cron=config_expr("sched.cron"), timezone=config_expr("sched.zone"))
@trigger(event=config_expr("sched.event"))
class ConfiguredNightly(FlowSpec):
    sched = Config(
        "sched", default_value={"cron": "0 2 * * *", "zone": "UTC", "event": "by_default"}
    )

    @step
    def start(self):
        self.cron = self.sched.cron
        self.next(self.end)

    @step
    def end(self):
        pass
