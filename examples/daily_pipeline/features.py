"""Step 2: when an ingest succeeds, clean its rows into features (a failed ingest starts
nothing).

    flowkit deploy examples/daily_pipeline/features.py
"""

from flowkit import FlowSpec, current, step, trigger_on_finish


@trigger_on_finish(flow="IngestFlow")
class FeaturesFlow(FlowSpec):
    """Turn the ingested rows into a training and a holdout set."""

    @step
    def start(self):
        """Read the ingest run that fired this one, drop outliers, split."""
        ingest = current.trigger.run
        self.day = ingest.data.day
        self.source = ingest.pathspec
        points = [(x, y) for x, y in ingest.data.points if abs(y - (3 * x + 1)) < 5]
        self.train_set = points[::2]
        self.holdout = points[1::2]
        self.next(self.end)

    @step
    def end(self):
        print(f"{len(self.train_set)} training and {len(self.holdout)} holdout rows")


if __name__ == "__main__":
    FeaturesFlow()
