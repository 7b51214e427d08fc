"""Step 4: evaluate each new model on the holdout, and deploy it only if it is good enough.

flowkit deploy examples/daily_pipeline/evaluate.py --threshold 0.95
"""

from common import r2

from flowkit import FlowSpec, Parameter, Run, current, step, trigger_on_finish


@trigger_on_finish(flow="TrainFlow")
class EvaluateFlow(FlowSpec):
    """Score the model a training run made; publish it if it passes."""

    threshold = Parameter("threshold", default=0.95, help="holdout R^2 needed to deploy")

    @step
    def start(self):
        """Score the model of the training run that fired this one."""
        train = current.trigger.run
        self.trained = train.pathspec
        self.model = train.data.model
        holdout = Run(train.data.features).data.holdout
        self.score = r2(self.model, holdout)
        self.decision = "deploy" if self.score >= float(self.threshold) else "hold"
        self.next({"deploy": self.deploy, "hold": self.hold}, condition="decision")

    @step
    def deploy(self):
        """Publish the model (here: an artifact a serving job reads)."""
        self.published = self.model
        self.next(self.end)

    @step
    def hold(self):
        """Keep serving the last published model."""
        self.published = None
        self.next(self.end)

    @step
    def end(self):
        print(f"R^2 {self.score:.4f}: {self.decision}")


if __name__ == "__main__":
    EvaluateFlow()
