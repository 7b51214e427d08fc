"""A 20-step linear flow; the step named in FLOWKIT_TEST_FAIL_AT fails (for resume tests)."""

import os

from flowkit import FlowSpec, current, step


def _maybe_fail() -> None:
    if os.environ.get("FLOWKIT_TEST_FAIL_AT") == current.step_name:
        raise RuntimeError(f"told to fail at {current.step_name}")


class LongLinearFlow(FlowSpec):
    @step
    def start(self):
        self.trail = ["start"]
        self.next(self.s02)

    @step
    def s02(self):
        _maybe_fail()
        self.trail = [*self.trail, "s02"]
        self.next(self.s03)

    @step
    def s03(self):
        _maybe_fail()
        self.trail = [*self.trail, "s03"]
        self.next(self.s04)

    @step
    def s04(self):
        _maybe_fail()
        self.trail = [*self.trail, "s04"]
        self.next(self.s05)

    @step
    def s05(self):
        _maybe_fail()
        self.trail = [*self.trail, "s05"]
        self.next(self.s06)

    @step
    def s06(self):
        _maybe_fail()
        self.trail = [*self.trail, "s06"]
        self.next(self.s07)

    @step
    def s07(self):
        _maybe_fail()
        self.trail = [*self.trail, "s07"]
        self.next(self.s08)

    @step
    def s08(self):
        _maybe_fail()
        self.trail = [*self.trail, "s08"]
        self.next(self.s09)

    @step
    def s09(self):
        _maybe_fail()
        self.trail = [*self.trail, "s09"]
        self.next(self.s10)

    @step
    def s10(self):
        _maybe_fail()
        self.trail = [*self.trail, "s10"]
        self.next(self.s11)

    @step
    def s11(self):
        _maybe_fail()
        self.trail = [*self.trail, "s11"]
        self.next(self.s12)

    @step
    def s12(self):
        _maybe_fail()
        self.trail = [*self.trail, "s12"]
        self.next(self.s13)

    @step
    def s13(self):
        _maybe_fail()
        self.trail = [*self.trail, "s13"]
        self.next(self.s14)

    @step
    def s14(self):
        _maybe_fail()
        self.trail = [*self.trail, "s14"]
        self.next(self.s15)

    @step
    def s15(self):
        _maybe_fail()
        self.trail = [*self.trail, "s15"]
        self.next(self.s16)

    @step
    def s16(self):
        _maybe_fail()
        self.trail = [*self.trail, "s16"]
        self.next(self.s17)

    @step
    def s17(self):
        _maybe_fail()
        self.trail = [*self.trail, "s17"]
        self.next(self.s18)

    @step
    def s18(self):
        _maybe_fail()
        self.trail = [*self.trail, "s18"]
        self.next(self.s19)

    @step
    def s19(self):
        _maybe_fail()
        self.trail = [*self.trail, "s19"]
        self.next(self.end)

    @step
    def end(self):
        self.trail = [*self.trail, "end"]


if __name__ == "__main__":
    LongLinearFlow()
