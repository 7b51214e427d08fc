"""Two ``IncludeFile`` parameters, one required and one with a default path; ``count`` fails
until FLOWKIT_TEST_FIXED is set, so the run can be resumed after the files are gone."""

import os

from flowkit import FlowSpec, IncludeFile, step


class IncludeFileFlow(FlowSpec):
    notes = IncludeFile("notes", required=True)
    extra = IncludeFile("extra", default="extra.txt")

    @step
    def start(self):
        self.words = self.notes.split() + self.extra.split()
        self.next(self.count)

    @step
    def count(self):
        if not os.environ.get("FLOWKIT_TEST_FIXED"):
            raise RuntimeError("the bug is still there")
        self.total = len(self.words)
        self.seen = self.notes + "|" + self.extra
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    IncludeFileFlow()
