"""``flowkit.S3``, Metaflow's S3 data tool, against the tests' S3 server: what a step or a
notebook does with it, and the values Metaflow documents for each call."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ResponseStreamingError

import flowkit
from flowkit import S3, FlowSpec, step
from flowkit_s3 import datatools, s3_calls
from flowkit_s3.datatools import S3DataError, S3NotFound, S3PutObject


def test_put_and_get_under_a_root(s3_url: str, tmp_path: Path) -> None:
    with S3(s3root=s3_url, tmproot=str(tmp_path)) as s3:
        url = s3.put("a/one.txt", "hello")
        assert url == f"{s3_url}/a/one.txt"
        s3.put("a/two.bin", b"\x00\x01", content_type="application/x-test", metadata={"n": 2})
        one = s3.get("a/one.txt")
        assert (one.text, one.blob, one.key, one.url) == ("hello", b"hello", "a/one.txt", url)
        assert one.exists and one.downloaded and one.size == 5
        assert Path(one.path).read_bytes() == b"hello"
        two = s3.get("a/two.bin")
        assert two.content_type == "application/x-test" and two.metadata == {"n": 2}
        info = s3.info("a/two.bin")
        assert info.size == 2 and not info.downloaded and info.metadata == {"n": 2}
        folder = one.path
    assert not os.path.exists(folder)  # close() removed the downloads


def test_missing_keys(s3_url: str, tmp_path: Path) -> None:
    with S3(s3root=s3_url, tmproot=str(tmp_path)) as s3:
        with pytest.raises(S3NotFound, match=r"no object at .*/nothing") as caught:
            s3.get("nothing")
        assert isinstance(caught.value, KeyError) and isinstance(caught.value, flowkit.FlowkitError)
        missing = s3.get("nothing", return_missing=True)
        assert missing.exists is False and missing.blob is None
        many = s3.get_many(["nothing", "nothing/else"], return_missing=True)
        assert [m.exists for m in many] == [False, False]


def test_many_files_listing_and_overwrite(s3_url: str, tmp_path: Path) -> None:
    local = tmp_path / "local.csv"
    local.write_text("x,y\n1,2\n")
    with S3(s3root=s3_url, tmproot=str(tmp_path)) as s3:
        put = s3.put_many([("d/0.txt", "zero"), S3PutObject("d/e/1.txt", value=b"one")])
        assert put == [("d/0.txt", f"{s3_url}/d/0.txt"), ("d/e/1.txt", f"{s3_url}/d/e/1.txt")]
        assert s3.put_files([("f/local.csv", str(local))]) == [
            ("f/local.csv", f"{s3_url}/f/local.csv")
        ]
        got = s3.get_many(["d/0.txt", "d/e/1.txt", "f/local.csv"])
        assert [g.blob for g in got] == [b"zero", b"one", b"x,y\n1,2\n"]
        listed = {(p.key, p.exists) for p in s3.list_paths()}
        assert listed == {("d", False), ("f", False)}
        # as in Metaflow, a listed key is relative to the prefix listed
        assert {(p.key, p.exists, p.url) for p in s3.list_paths(["d"])} == {
            ("0.txt", True, f"{s3_url}/d/0.txt"),
            ("e", False, f"{s3_url}/d/e/"),
        }
        assert sorted(o.key for o in s3.get_all()) == ["d/0.txt", "d/e/1.txt", "f/local.csv"]
        assert sorted(o.text for o in s3.get_recursive(["d"])) == ["one", "zero"]
        s3.put("d/0.txt", "changed", overwrite=False)
        assert s3.get("d/0.txt").text == "zero"
        s3.put("d/0.txt", "changed")
        assert s3.get("d/0.txt").text == "changed"


def test_full_urls_without_a_root(s3_url: str, tmp_path: Path) -> None:
    with S3(tmproot=str(tmp_path)) as s3:
        s3.put(f"{s3_url}/full.txt", "full")
        assert s3.get(f"{s3_url}/full.txt").text == "full"
        with pytest.raises(S3DataError, match="not a full s3:// URL"):
            s3.get("relative/key")
    with pytest.raises(S3DataError, match="s3root 'bucket/x' is not an S3 URL"):
        S3(s3root="bucket/x")


class S3RunFlow(FlowSpec):
    @step
    def start(self):
        with S3(run=self) as s3:
            self.url = s3.put("model.txt", "weights")
            self.read_back = s3.get("model.txt").text
        self.next(self.end)

    @step
    def end(self):
        with S3(run=self) as s3:
            self.seen = s3.get("model.txt").text  # the run's prefix, from another task


def test_run_self_keys_live_under_the_run(
    s3_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWKIT_S3_ROOT", f"{s3_url}/data")
    run = flowkit.run(S3RunFlow, store=str(tmp_path / "store"))
    assert run.successful
    assert run["start"].task.data.url == f"{s3_url}/data/S3RunFlow/{run.id}/model.txt"
    assert run["start"].task.data.read_back == "weights" and run.data.seen == "weights"
    with S3(run=run, tmproot=str(tmp_path)) as s3:  # a past run, from the client
        assert s3.get("model.txt").text == "weights"


def test_run_needs_a_root(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("FLOWKIT_S3_ROOT", "METAFLOW_DATATOOLS_S3ROOT"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(S3DataError, match="needs an S3 root") as caught:
        S3(run=object())
    assert "FLOWKIT_S3_ROOT=s3://bucket/prefix" in caught.value.hint
    monkeypatch.setenv("FLOWKIT_S3_ROOT", "s3://bucket/x")
    with pytest.raises(S3DataError, match="inside a running step only"):
        S3(run=object())


class _CutBody:
    """A download's body that the network cuts after its first bytes."""

    def __init__(self, body: Any) -> None:
        self._body, self._sent = body, False

    def read(self, size: int = -1) -> bytes:
        if self._sent:
            raise ResponseStreamingError(error="Connection broken: IncompleteRead(4 bytes read)")
        self._sent = True
        return self._body.read(4)


def test_a_download_cut_partway_leaves_no_partial_copy(s3_url: str, tmp_path: Path) -> None:
    def cut(parsed: dict[str, Any], **_: Any) -> None:
        parsed["Body"] = _CutBody(parsed["Body"])

    events = s3_calls.clients().meta.events
    with S3(s3root=s3_url, tmproot=str(tmp_path)) as s3:
        s3.put("big.bin", b"0123456789" * 100)
        folder = Path(s3._tmpdir or "")
        events.register("after-call.s3.GetObject", cut, unique_id="test-cut-body")
        try:
            with pytest.raises(S3DataError) as caught:
                s3.get("big.bin")
        finally:
            events.unregister("after-call.s3.GetObject", unique_id="test-cut-body")
        assert not isinstance(caught.value, S3NotFound)
        assert str(caught.value).startswith(f"could not download {s3_url}/big.bin: ")
        assert "ResponseStreamingError" in str(caught.value)
        assert list(folder.iterdir()) == []  # the partial copy is gone
        assert s3.get("big.bin").blob == b"0123456789" * 100  # the next get works


def test_a_download_that_cannot_be_saved_names_the_key(
    s3_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full_disk(source: Any, target: Any) -> None:
        target.write(source.read(4))
        raise OSError(28, "No space left on device")

    with S3(s3root=s3_url, tmproot=str(tmp_path)) as s3:
        s3.put("k.txt", "content")
        monkeypatch.setattr(datatools.shutil, "copyfileobj", full_disk)
        with pytest.raises(S3DataError, match=f"could not save {s3_url}/k.txt to ") as caught:
            s3.get("k.txt")
        assert "No space left on device" in str(caught.value)
        assert "tmproot" in caught.value.hint
        assert list(Path(s3._tmpdir or "").iterdir()) == []
