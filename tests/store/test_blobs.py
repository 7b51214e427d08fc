"""Values in and out of the store: dedupe, zero-copy arrays, compression, corruption."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from flowkit.store import ArtifactNotSerializable, CorruptBlobError, LocalBackend, Store
from flowkit.store.blobs import blob_key, digest_of
from flowkit.store.serialize import to_frames

from .conftest import blob_file, tree_bytes

ROOT = Path(__file__).resolve().parents[2]


def test_same_200mb_array_twice_adds_no_bytes(store: Store, tmp_path: Path) -> None:
    array = np.random.default_rng(0).random(25_000_000)  # 200 MB, incompressible
    first = store.values.put(array)
    blobs = tmp_path / "store" / "blobs"
    size_after_first = tree_bytes(blobs)
    mtime = blob_file(store, first.digest).stat().st_mtime_ns
    fresh = Store(store.backend)  # no in-memory knowledge of what was written
    second = fresh.values.put(array.copy())
    assert second == first
    assert tree_bytes(blobs) == size_after_first
    assert blob_file(store, first.digest).stat().st_mtime_ns == mtime
    # stored raw: no compression for random floats, just a small header on top
    assert array.nbytes < size_after_first < array.nbytes + 4096
    back = fresh.values.load(first.digest)
    assert back.dtype == np.float64 and back.flags.writeable and back.flags.aligned
    assert np.array_equal(back, array)


def test_array_is_written_without_copies() -> None:
    array = np.arange(1_000_000, dtype=np.float64)
    frames = to_frames(array)
    # the array's own memory is handed over out of band, not copied into the pickle
    assert len(frames.segments) == 2
    assert np.shares_memory(np.frombuffer(frames.segments[1], dtype=np.float64), array)


def test_compressible_value_is_compressed(store: Store) -> None:
    ref = store.values.put(np.zeros(1_000_000))
    assert ref.size > 8_000_000
    assert blob_file(store, ref.digest).stat().st_size < 100_000
    assert np.array_equal(store.values.load(ref.digest), np.zeros(1_000_000))


def test_digest_names_the_uncompressed_bytes(store: Store) -> None:
    value = "abc" * 100_000
    ref = store.values.put(value)
    assert ref.digest == digest_of(to_frames(value).segments)
    assert store.values.load(ref.digest) == value


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda b: b[:-1], id="truncated"),
        pytest.param(lambda b: b[:-8] + bytes(x ^ 1 for x in b[-8:]), id="flipped"),
        pytest.param(lambda b: b + b"x", id="appended"),
        pytest.param(lambda b: b"NOTBLOB" + b[7:], id="bad-magic"),
        pytest.param(lambda b: b"", id="emptied"),
    ],
)
def test_corrupt_blob_is_detected(store: Store, damage: object) -> None:
    ref = store.values.put(np.random.default_rng(1).random(1000))
    path = blob_file(store, ref.digest)
    path.write_bytes(damage(path.read_bytes()))  # type: ignore[operator]
    with pytest.raises(CorruptBlobError) as info:
        store.values.load(ref.digest)
    text = str(info.value)
    assert f"blob {ref.digest} at {path} is corrupt" in text
    assert "hint: the file was changed or damaged" in text


def test_corrupt_compressed_blob_is_detected(store: Store) -> None:
    ref = store.values.put(np.zeros(100_000))
    path = blob_file(store, ref.digest)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptBlobError, match="is corrupt"):
        store.values.load(ref.digest)


def test_missing_blob_is_reported(store: Store) -> None:
    with pytest.raises(CorruptBlobError, match="the blob is missing"):
        store.values.load("0" * 64)


def test_unpicklable_artifact_names_artifact_type_and_step(store: Store) -> None:
    import threading

    with pytest.raises(ArtifactNotSerializable) as info:
        store.values.put_artifacts({"ok": 1, "lock": threading.Lock()}, step="train")
    assert info.value.name == "lock" and info.value.step == "train"
    assert str(info.value).startswith(
        "step 'train': artifact 'lock' of type _thread.lock cannot be pickled"
    )
    assert "hint:" in str(info.value)


def test_lambda_and_local_class_use_cloudpickle(store: Store) -> None:
    class Local:
        def __init__(self) -> None:
            self.x = 41

    ref = store.values.put({"f": lambda v: v + 1, "obj": Local()})
    back = store.values.load(ref.digest)
    assert back["f"](back["obj"].x) == 42


def test_class_from_main_reads_back_in_a_process_without_it(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(ROOT)!r})
        from flowkit.store import open_store

        class Point:
            def __init__(self, x, y):
                self.x, self.y = x, y
            def norm2(self):
                return self.x ** 2 + self.y ** 2

        print(open_store({str(tmp_path)!r}).values.put(Point(3, 4)).digest)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    digest = done.stdout.strip()
    point = Store(LocalBackend(tmp_path)).values.load(digest)
    assert type(point).__name__ == "Point" and point.norm2() == 25


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda b: b[: len(b) // 2], id="truncated"),
        pytest.param(lambda b: b[:-2] + bytes([b[-2] ^ 0x10]) + b[-1:], id="bit-flipped"),
    ],
)
def test_a_new_run_writing_the_same_value_heals_a_damaged_blob(
    tmp_path: Path, damage: object
) -> None:
    import flowkit
    from tests.flows.fanout import FanoutFlow
    from tests.runtime.test_shapes import Quiet

    # scaled's result, 210 * 10**300: a pickle stream too long to be inline, so a blob
    scale, result = 7 * 10**300, 210 * 10**300
    first = flowkit.run(FanoutFlow, store=str(tmp_path), progress=Quiet(), n=3, scale=scale)
    path = tmp_path / blob_key(digest_of(to_frames(result).segments))
    good = path.read_bytes()
    path.write_bytes(damage(good))  # type: ignore[operator]
    with pytest.raises(CorruptBlobError, match="artifact 'result' of task FanoutFlow/"):
        _ = first["scaled"].task.data.result
    second = flowkit.run(FanoutFlow, store=str(tmp_path), progress=Quiet(), n=3, scale=scale)
    assert path.read_bytes() == good
    assert second.data.result == result and first["scaled"].task.data.result == result
