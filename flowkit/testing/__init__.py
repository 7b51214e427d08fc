"""Test support for flowkit and its extensions: the backend conformance suite, a backend
that fails writes on demand, fake runs, killing a script at a chosen moment, and stopping a service a test started.

Importing this package imports pytest; nothing in flowkit itself imports it.
"""

from flowkit.testing.conformance import BAD_KEYS, BackendConformance
from flowkit.testing.fake_run import FakeTask, write_fake_run, write_task
from flowkit.testing.faults import FaultyBackend, faulty_url
from flowkit.testing.kill import kill_when_ready
from flowkit.testing.services import stop_group

__all__ = [
    "BAD_KEYS",
    "BackendConformance",
    "FakeTask",
    "FaultyBackend",
    "faulty_url",
    "kill_when_ready",
    "stop_group",
    "write_fake_run",
    "write_task",
]
