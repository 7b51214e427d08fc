"""What is pickled plainly and what needs cloudpickle (objects of ``__main__``)."""

from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path

import pytest

from flowkit.store.serialize import from_frames, to_frames


@pytest.fixture
def main_class(monkeypatch: pytest.MonkeyPatch) -> type:
    """A class defined in ``__main__``, as in a script or a notebook cell."""
    main = types.ModuleType("__main__")
    cls = type("Point", (), {"__module__": "__main__"})
    main.Point = cls  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "__main__", main)
    return cls


def test_text_that_mentions_main_is_pickled_plainly() -> None:
    source = 'if __name__ == "__main__":\n    HelloFlow()\n'
    frames = to_frames({"flow.py": source, "note": "runs as __main__"})
    assert not frames.cloudpickled
    assert from_frames(frames.segments) == {"flow.py": source, "note": "runs as __main__"}


def test_an_object_of_a_class_from_main_is_cloudpickled(main_class: type, tmp_path: Path) -> None:
    point = main_class()
    point.x = 3  # type: ignore[attr-defined]
    frames = to_frames(["__main__", point, main_class()])  # the text first: memoized
    assert frames.cloudpickled
    # the class travels by value: a reader without that __main__ (another process) loads it
    stream = tmp_path / "point.pickle"
    stream.write_bytes(bytes(frames.segments[0]))
    read = (
        "import pickle, sys\n"
        "restored = pickle.loads(open(sys.argv[1], 'rb').read())\n"
        "print(restored[0], restored[1].x, type(restored[1]).__name__, restored[2].__class__)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", read, str(stream)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["__main__", "3", "Point", "<class", "'__main__.Point'>"]
