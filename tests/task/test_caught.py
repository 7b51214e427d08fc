"""What ``@catch`` stores is a :class:`CaughtFailure`; ``CaughtException`` stays its
Metaflow-compatible name, for imports and for artifacts pickled before the rename."""

from __future__ import annotations

import pickle

import flowkit
from flowkit.task.caught import CaughtFailure

#: ``pickle.dumps(CaughtException("KeyError", "'k'", "Traceback ...", "error"), protocol=5)``
#: as flowkit wrote it when the class itself was called ``CaughtException``.
_STORED_UNDER_THE_OLD_NAME = (
    b"\x80\x05\x95\x83\x00\x00\x00\x00\x00\x00\x00\x8c\x13flowkit.task.caught\x94\x8c\x0f"
    b"CaughtException\x94\x93\x94)\x81\x94}\x94(\x8c\x04type\x94\x8c\x08KeyError\x94\x8c\x07"
    b"message\x94\x8c\x03'k'\x94\x8c\ttraceback\x94\x8c\rTraceback ...\x94\x8c\x07failure"
    b"\x94\x8c\x05error\x94ub."
)


def test_an_artifact_pickled_under_the_old_name_still_loads() -> None:
    loaded = pickle.loads(_STORED_UNDER_THE_OLD_NAME)
    assert type(loaded) is CaughtFailure
    assert loaded == CaughtFailure("KeyError", "'k'", "Traceback ...", "error")
    assert str(loaded) == "KeyError: 'k'"


def test_the_metaflow_name_is_the_same_class_and_not_an_exception() -> None:
    assert flowkit.CaughtException is flowkit.CaughtFailure is CaughtFailure
    assert not issubclass(CaughtFailure, BaseException)
    fresh = pickle.dumps(CaughtFailure("ValueError", "bad", failure="timeout"))
    assert b"CaughtFailure" in fresh and pickle.loads(fresh).failure == "timeout"
