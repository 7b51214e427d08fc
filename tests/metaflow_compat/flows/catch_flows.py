"""Flows for tests/metaflow_compat/test_catch.py, written as a Metaflow user writes them (with
flowkit's import line): ``@catch`` on a linear step, a foreach branch and a join, ``@timeout``
with ``@catch`` in both orders, and steps that die of a signal.

Run one from the command line with ``FLOWKIT_TEST_FLOW=Name python catch_flows.py run``.
"""

import ctypes
import os
import threading
import time

from flowkit import FlowSpec, card, catch, current, retry, step, timeout
from flowkit.cards import CardComponent


class CatchLinearFlow(FlowSpec):
    """``compute`` fails on both attempts after setting artifacts; ``fine`` succeeds."""

    @step
    def start(self):
        self.x = 1
        self.next(self.compute)

    @catch(var="compute_failed")
    @retry(times=1, minutes_between_retries=0)
    @step
    def compute(self):
        self.partial = f"set by attempt {current.retry_count}"
        self.x += 10
        raise ValueError(f"bad input on attempt {current.retry_count}")
        self.next(self.fine)

    @catch(var="fine_failed")
    @step
    def fine(self):
        self.y = self.x * 2
        self.next(self.quiet)

    @catch(print_exception=False)
    @step
    def quiet(self):
        self.z = 5
        raise KeyError("caught without a variable")
        self.next(self.end)

    @step
    def end(self):
        self.summary = (self.x, self.y, self.partial, self.compute_failed.type, self.fine_failed)
        self.quiet_z = self.z


class CatchForeachFlow(FlowSpec):
    """Branch 2 of the foreach fails after setting ``square``; the join fails after setting
    ``squares``: both are caught and what they set goes on."""

    @step
    def start(self):
        self.items = [1, 2, 3]
        self.next(self.work, foreach="items")

    @catch(var="err")
    @step
    def work(self):
        self.square = self.input * self.input
        if self.input == 2:
            self.ratio = 1 / 0
        self.next(self.join)

    @catch(var="join_failed")
    @step
    def join(self, inputs):
        self.squares = [i.square for i in inputs]
        self.errors = [None if i.err is None else i.err.type for i in inputs]
        raise RuntimeError("the join gave up")
        self.next(self.end)

    @step
    def end(self):
        self.result = (self.squares, self.errors, self.join_failed.type)


class TimeoutCatchFlow(FlowSpec):
    """``@timeout`` with ``@catch``, in both orders: the step is interrupted, what it set
    before stays; ``stubborn`` swallows the interruption and is killed instead."""

    @step
    def start(self):
        self.inherited = "from start"
        self.next(self.catch_outside)

    @catch(var="timed_out")
    @timeout(seconds=1)
    @step
    def catch_outside(self):
        self.before = "set before the timeout"
        time.sleep(30)
        self.after = "never set"
        self.next(self.catch_inside)

    @timeout(seconds=1)
    @catch(var="timed_out_too")
    @step
    def catch_inside(self):
        self.before_too = "set before it too"
        time.sleep(30)
        self.next(self.stubborn)

    @catch(var="killed")
    @timeout(seconds=1)
    @step
    def stubborn(self):
        self.swallowed = "set, but the process was killed"
        try:
            time.sleep(30)
        except Exception:
            time.sleep(30)
        self.next(self.end)

    @step
    def end(self):
        pass


class SlowComponent(CardComponent):
    def render(self):
        time.sleep(60)
        return "too late"


class TimeoutCardFlow(FlowSpec):
    """A step that times out with a card that renders slower than what is left of its
    grace: the card gives way, and the step's own exception is what ``@catch`` stores."""

    @step
    def start(self):
        self.next(self.slow)

    @card(type="blank", timeout=45)
    @catch(var="timed_out")
    @timeout(seconds=1)
    @step
    def slow(self):
        self.before = "set before the timeout"
        current.card.append(SlowComponent())
        time.sleep(30)
        self.next(self.end)

    @step
    def end(self):
        pass


class OwnError(Exception):
    pass


class OwnErrorFlow(FlowSpec):
    """An exception class of the flow's own file: Metaflow, running the file as a script,
    names it ``__main__.OwnError``."""

    @step
    def start(self):
        self.next(self.work)

    @catch(var="err")
    @step
    def work(self):
        raise OwnError("mine")
        self.next(self.end)

    @step
    def end(self):
        self.seen = self.err.type


class AllCaughtFlow(FlowSpec):
    """Every step under ``@catch``: a run whose tasks are all lost still ends."""

    @catch(var="start_failed")
    @step
    def start(self):
        self.next(self.end)

    @catch(var="end_failed")
    @step
    def end(self):
        pass


class UnpicklableCatchFlow(FlowSpec):
    """``work`` sets an artifact pickle refuses, then raises: the step's own exception is the
    one caught, and nothing of the failed attempt is kept (all or nothing)."""

    @step
    def start(self):
        self.kept = "from start"
        self.next(self.work)

    @catch(var="failure")
    @step
    def work(self):
        self.note = "set before"
        self.lock = threading.Lock()
        raise ValueError("the real problem")
        self.next(self.end)

    @step
    def end(self):
        pass


class FailingFlow(FlowSpec):
    """``work`` fails without @catch after setting ``progress``."""

    @step
    def start(self):
        self.next(self.work)

    @step
    def work(self):
        self.progress = 3
        raise RuntimeError("stopped at 3")
        self.next(self.end)

    @step
    def end(self):
        pass


def _segfault() -> None:
    ctypes.string_at(0)


class SignalFlow(FlowSpec):
    """``crash`` dies as ``FLOWKIT_TEST_CRASH`` says: ``segv`` (a null pointer read),
    ``abort`` (``os.abort()``) or ``kill`` (SIGKILL to itself)."""

    @step
    def start(self):
        self.next(self.crash)

    @step
    def crash(self):
        print("about to crash")
        how = os.environ.get("FLOWKIT_TEST_CRASH", "segv")
        if how == "segv":
            _segfault()
        elif how == "abort":
            os.abort()
        else:
            os.kill(os.getpid(), 9)
        self.next(self.end)

    @step
    def end(self):
        pass


class CaughtSegfaultFlow(FlowSpec):
    """A segfault under ``@catch``: the flow goes on, the variable says what happened."""

    @step
    def start(self):
        self.kept = "from start"
        self.next(self.crash)

    @catch(var="crashed")
    @step
    def crash(self):
        _segfault()
        self.next(self.end)

    @step
    def end(self):
        self.seen = (self.kept, self.crashed.type)


if __name__ == "__main__":
    {c.__name__: c for c in FlowSpec.__subclasses__()}[os.environ["FLOWKIT_TEST_FLOW"]]()
