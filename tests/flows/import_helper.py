"""A flow whose module starts a helper process when the warm worker imports it (as a module
that opens a pool or a server at import would); the helper's pid goes to
FLOWKIT_TEST_HELPER_PID. Tasks must not take the helper with them when they end."""

import os
import subprocess
import sys
from pathlib import Path

from flowkit import FlowSpec, step

_main = getattr(sys.modules["__main__"], "__spec__", None)
if _main is not None and _main.name == "flowkit.executor.forkserver":
    _HELPER = subprocess.Popen(["sleep", "60"], start_new_session=True)
    Path(os.environ["FLOWKIT_TEST_HELPER_PID"]).write_text(str(_HELPER.pid))


class ImportHelperFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
