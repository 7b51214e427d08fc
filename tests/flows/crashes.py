"""A foreach whose splits die in different ways; the healthy ones must still finish."""

import ctypes
import os
import signal
import time

from flowkit import FlowSpec, Parameter, step


class CrashFlow(FlowSpec):
    modes = Parameter("modes", default="ok,exit,segv,kill,raise,ok")

    @step
    def start(self):
        self.items = self.modes.split(",")
        self.next(self.work, foreach="items")

    @step
    def work(self):
        mode = self.input
        print(f"split {self.index} does {mode}", flush=True)
        if mode == "exit":
            os._exit(3)
        if mode == "segv":
            ctypes.string_at(0)
        if mode == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        if mode == "raise":
            raise ValueError(f"split {self.index} was told to fail")
        if mode == "sleep":
            time.sleep(60)
        self.result = f"{mode}-{self.index}"
        self.next(self.join)

    @step
    def join(self, inputs):
        self.results = [i.result for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    CrashFlow()
