"""What ``@catch`` stores is a :class:`CaughtFailure`, read as Metaflow's
``MetaflowExceptionWrapper``; ``CaughtException`` stays its Metaflow-compatible name, for
imports and for artifacts pickled before the rename (and before it became an exception)."""

from __future__ import annotations

import pickle

import pytest

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
    assert (loaded.exception, loaded.stacktrace, str(loaded)) == (
        "'k'",
        "Traceback ...",
        "Traceback ...",
    )


def test_the_metaflow_name_is_the_same_class_and_an_exception_as_metaflows() -> None:
    assert flowkit.CaughtException is flowkit.CaughtFailure is CaughtFailure
    assert issubclass(CaughtFailure, Exception)
    fresh = pickle.dumps(CaughtFailure("builtins.ValueError", "bad", failure="timeout"))
    loaded = pickle.loads(fresh)
    assert b"CaughtFailure" in fresh and loaded.failure == "timeout"
    assert loaded == CaughtFailure("builtins.ValueError", "bad", "", "timeout")


def test_it_reads_as_metaflows_exception_wrapper() -> None:
    caught = CaughtFailure("builtins.KeyError", "'k'", "Traceback (most recent call last):\n...")
    assert (caught.type, caught.exception, caught.message) == ("builtins.KeyError", "'k'", "'k'")
    assert str(caught) == caught.stacktrace == caught.traceback
    bare = CaughtFailure("TaskLost", "the warm worker died", failure="lost")
    assert bare.stacktrace is None
    assert str(bare) == "[no stacktrace]\nTaskLost: the warm worker died"
    with pytest.raises(CaughtFailure) as raised:  # re-raised by a later step, as Metaflow's
        raise caught
    assert raised.value is caught
