"""Step 3: train when new features are ready, or retrain when drift is detected:

flowkit deploy examples/daily_pipeline/train.py
flowkit event publish drift_detected --payload '{"reason": "input mean moved"}'
"""

from common import fit

from flowkit import Flow, FlowSpec, Parameter, current, sla, step, trigger, trigger_on_finish


@trigger_on_finish(flow="FeaturesFlow")
@trigger(event={"name": "drift_detected", "parameters": {"reason": "reason"}})
class TrainFlow(FlowSpec):
    """Fit the model on the latest features."""

    reason = Parameter("reason", default="new features", help="why this model is trained")

    @sla(minutes=30)  # a sla_missed alert while it goes, if training takes longer
    @step
    def start(self):
        """The features run that fired this one; on a drift event, the latest good one."""
        fired = current.trigger.run if current.trigger else None
        features = fired or Flow("FeaturesFlow").latest_successful_run
        self.features = features.pathspec
        self.day = features.data.day
        self.model = fit(features.data.train_set)
        self.next(self.end)

    @step
    def end(self):
        print(f"trained on {self.features} ({self.reason}): {self.model}")


if __name__ == "__main__":
    TrainFlow()
