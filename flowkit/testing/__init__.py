"""Test support for flowkit and its extensions: the backend conformance suite and fake runs.

Importing this package imports pytest; nothing in flowkit itself imports it.
"""

from flowkit.testing.conformance import BAD_KEYS, BackendConformance
from flowkit.testing.fake_run import FakeTask, write_fake_run, write_task

__all__ = ["BAD_KEYS", "BackendConformance", "FakeTask", "write_fake_run", "write_task"]
