"""Step 1 of the daily pipeline: every night at 02:00 Berlin time, ingest the day's data
(tried again, twice, if the source fails: a flaky read must not cost a night).

flowkit deploy examples/daily_pipeline/ingest.py
"""

from common import daily_rows, run_day

from flowkit import FlowSpec, Parameter, retry, schedule, step


@schedule(cron="0 2 * * *", timezone="Europe/Berlin")
class IngestFlow(FlowSpec):
    """Ingest one day's measurements."""

    rows = Parameter("rows", default=200, help="how many rows to ingest")

    @retry(times=2, minutes_between_retries=1)
    @step
    def start(self):
        """Read the day's rows (synthetic here: the same every time for a day)."""
        self.day = run_day()
        self.points = daily_rows(self.day, int(self.rows))
        self.next(self.end)

    @step
    def end(self):
        print(f"ingested {len(self.points)} rows for {self.day}")


if __name__ == "__main__":
    IngestFlow()
