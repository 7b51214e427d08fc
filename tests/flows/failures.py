"""Small flows for failure handling: flaky, lost, caught, timed-out and fixable steps.

Each behaviour is switched by the attempt number (``current.retry_count``) or by an
environment variable the test sets, so the same file shows a failure and its fix.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from flowkit import FlowSpec, Parameter, catch, current, retry, step, timeout
from flowkit.authoring.decorators import alert

#: The value ``FragileFlow.start`` stores: fault tests aim the store hook at its blob.
#: Long enough not to be held inline by its record: a blob, for the fault tests to hit.
PAYLOAD = "fault-injection payload " * 8


class FlakyFlow(FlowSpec):
    """``work`` fails on its first two attempts; only a retry gets it through."""

    @step
    def start(self):
        self.next(self.work)

    @retry(times=2, backoff=0)
    @step
    def work(self):
        if current.retry_count < 2:
            raise ValueError(f"attempt {current.retry_count} is flaky")
        self.result = f"ok after {current.retry_count} retries"
        self.next(self.end)

    @step
    def end(self):
        pass


class NoRetryFlakyFlow(FlowSpec):
    """Like FlakyFlow without @retry: it needs ``--with retry`` or the retry setting."""

    @step
    def start(self):
        if current.retry_count < 1:
            raise ValueError("the first attempt always fails")
        self.result = current.retry_count
        self.next(self.end)

    @step
    def end(self):
        pass


class LostFlow(FlowSpec):
    """``work`` is SIGKILLed on its first attempt: lost, so retried once without @retry."""

    @step
    def start(self):
        self.next(self.work)

    @step
    def work(self):
        if current.retry_count == 0:
            os.kill(os.getpid(), signal.SIGKILL)
        self.result = "survived"
        self.next(self.end)

    @step
    def end(self):
        pass


class CatchFlow(FlowSpec):
    """``risky`` always fails; @catch stores the error and the flow goes on."""

    @step
    def start(self):
        self.kept = "from start"
        self.next(self.risky)

    @catch(var="error")
    @retry(times=1, backoff=0)
    @step
    def risky(self):
        self.tried = f"attempt {current.retry_count}"
        if current.retry_count >= 0:
            raise KeyError(f"attempt {current.retry_count} has no luck")
        self.next(self.end)

    @step
    def end(self):
        self.summary = f"{self.kept}; {self.error.type}"


class TimeoutFlow(FlowSpec):
    """``slow`` starts a grandchild ``sleep`` and outlives its @timeout on every attempt."""

    pid_dir = Parameter("pid_dir", default="")

    @step
    def start(self):
        self.next(self.slow)

    @retry(times=1, backoff=0)
    @timeout(seconds=1)
    @step
    def slow(self):
        _outlive_the_timeout(self.pid_dir)
        self.next(self.end)

    @step
    def end(self):
        pass


class SlowStartTimeoutFlow(TimeoutFlow):
    """TimeoutFlow for executors whose timeout counts from the job's start (Slurm, Batch):
    a fresh interpreter can take over a second to reach the step on a loaded machine, so
    the limit leaves room for the step to start its grandchild before the kill."""

    @retry(times=1, backoff=0)
    @timeout(seconds=6)
    @step
    def slow(self):
        _outlive_the_timeout(self.pid_dir)
        self.next(self.end)


def _outlive_the_timeout(pid_dir: str) -> None:
    """Start a grandchild ``sleep``, note its pid for this attempt, and sleep past any limit."""
    child = subprocess.Popen(["sleep", "60"])
    Path(pid_dir, f"{current.retry_count}.pid").write_text(str(child.pid))
    time.sleep(60)


class FixableFlow(FlowSpec):
    """``work`` fails until FLOWKIT_TEST_FIXED is set: the bug and its fix."""

    factor = Parameter("factor", default=3)

    @step
    def start(self):
        self.value = 14
        self.next(self.work)

    @retry(times=1, backoff=0)
    @step
    def work(self):
        if not os.environ.get("FLOWKIT_TEST_FIXED"):
            raise RuntimeError("the bug is still there")
        self.value = self.value * self.factor
        self.next(self.end)

    @step
    def end(self):
        self.result = self.value


#: Writes the alert it gets on stdin to the file $ALERT_OUT names.
_WRITE_ALERT = "import os, sys; open(os.environ['ALERT_OUT'], 'w').write(sys.stdin.read())"


@alert(command=[sys.executable, "-c", _WRITE_ALERT], on=["run_failed"])
class AlertedFlow(FlowSpec):
    """Always fails; its own @alert says so."""

    @step
    def start(self):
        if self.__class__:
            raise OSError("the disk is on fire")
        self.next(self.end)

    @step
    def end(self):
        pass


class FragileFlow(FlowSpec):
    """start -> work -> end, with a known payload blob and a slow step to kill things in."""

    n = Parameter("n", default=2)
    pause = Parameter("pause", default=0.0)

    @step
    def start(self):
        self.payload = PAYLOAD
        self.items = list(range(self.n))
        self.next(self.work, foreach="items")

    @step
    def work(self):
        time.sleep(self.pause)
        self.square = self.input * self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.square for i in inputs)
        self.payload = inputs[0].payload
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    {c.__name__: c for c in FlowSpec.__subclasses__()}[os.environ["FLOWKIT_TEST_FLOW"]]()
