"""A flow whose module is slow to import, or refuses to, in the warm worker only
(``FLOWKIT_TEST_WORKER_IMPORT=slow|fail``): the start-up a big library import makes."""

import os
import time

from flowkit import FlowSpec, step

if __name__ != "__main__":
    _MODE = os.environ.get("FLOWKIT_TEST_WORKER_IMPORT")
    if _MODE == "slow":
        time.sleep(3.0)
    elif _MODE == "fail":
        raise RuntimeError("this module refuses to load in the worker")


class WorkerImportFlow(FlowSpec):
    @step
    def start(self):
        self.value = 1
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    WorkerImportFlow()
