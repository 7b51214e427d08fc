"""Steps whose process is killed (as the kernel's out-of-memory killer does): a lost
attempt, retried once without @retry, then @catch applies."""

import os
import signal

from flowkit import FlowSpec, catch, current, step


class LostFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.oom, self.caught_oom)

    @step
    def oom(self):
        if current.retry_count == 0:
            os.kill(os.getpid(), signal.SIGKILL)
        self.survived = current.retry_count
        self.next(self.join)

    @catch(var="problem", print_exception=False)
    @step
    def caught_oom(self):
        os.kill(os.getpid(), signal.SIGKILL)
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass
