"""A writer killed with SIGKILL in the middle of a write to S3 leaves nothing half-visible:
a multipart upload stays incomplete (fsck reports it, repair aborts it once old), and a
record whose PUT was cut off mid-body never appears. A move killed between its copy and
its delete leaves the object under both keys, which fsck --repair, the move made again
and gc all settle."""

from __future__ import annotations

import io
import random
import textwrap
import time
from pathlib import Path

import pytest
from seaweedfs import SHARED_BUCKET, S3Server

from flowkit.client import Flow
from flowkit.store import NotFoundError, Store
from flowkit.store.blobs import blob_key, digest_of, read_segments
from flowkit.store.fsck import TEMPORARY_GRACE, fsck, repair
from flowkit.store.gc import collect
from flowkit.store.gc_plan import Policy
from flowkit.store.ids import IdGenerator
from flowkit.store.layout import quarantine_key, trash_key
from flowkit.store.serialize import to_frames
from flowkit.testing.kill import kill_when_ready
from flowkit_s3.backend import S3Backend

MiB = 1 << 20
#: Incompressible, so the blob is stored raw: 18 MiB, four 5 MiB parts.
BIG = random.Random(7).randbytes(18 * MiB)

_SMALL_PARTS = "multipart_threshold=6 << 20, part_size=5 << 20, threads=1"

# The writer stops after its second part went up, says so, and hangs.
_HANG_AFTER_TWO_PARTS = """
import random, sys, time
from flowkit.store import Store
from flowkit_s3.backend import S3Backend

backend = S3Backend({url!r}, {parts})
done = []

def after_part(**_):
    done.append(1)
    if len(done) == 2:
        open({ready!r}, "w").close()
        time.sleep(60)

backend._clients().meta.events.register("after-call.s3.UploadPart", after_part)
Store(backend).values.put(random.Random(7).randbytes(18 << 20))
"""

# The writer's PUT of a key containing MARK sends half of its body, says so, and hangs.
_HANG_MID_BODY = """
import io, sys, time
from flowkit.store import Store
from flowkit_s3 import backend as s3

class HalfThenHang(io.RawIOBase):
    def __init__(self, data):
        self.data, self.pos = data, 0
    def __len__(self):
        return len(self.data)
    def readable(self):
        return True
    def seekable(self):
        return True
    def tell(self):
        return self.pos
    def seek(self, offset, whence=0):
        self.pos = {{0: 0, 1: self.pos, 2: len(self.data)}}[whence] + offset
        return self.pos
    def read(self, size=-1):
        half = len(self.data) // 2
        if self.pos >= half:
            open({ready!r}, "w").close()
            time.sleep(60)
        chunk = self.data[self.pos : half if size < 0 else min(half, self.pos + size)]
        self.pos += len(chunk)
        return chunk

real_ask = s3.S3Backend._ask

def ask(self, operation, doing, handled=None, /, **params):
    if operation == "put_object" and {mark!r} in params["Key"] and hang:
        params["Body"] = HalfThenHang(bytes(params["Body"]))
    return real_ask(self, operation, doing, handled, **params)

s3.S3Backend._ask = ask
hang = False
store = Store(s3.S3Backend({url!r}))
"""


@pytest.mark.slow
def test_kill_mid_multipart_upload(
    s3_server: S3Server, s3_url: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    ready = tmp_path / "ready"
    script = _HANG_AFTER_TWO_PARTS.format(url=s3_url, parts=_SMALL_PARTS, ready=str(ready))
    kill_when_ready(script, ready, env=s3_env, timeout=30)
    backend = S3Backend(s3_url)
    store = Store(backend)
    digest = digest_of(to_frames(BIG).segments)
    assert not store.values.has(digest) and backend.list("blobs") == []
    [temp] = backend.temporaries()
    assert temp.name.startswith(f"blobs/{digest[:2]}/{digest}#upload=")
    assert temp.size == 10 * MiB and abs(temp.modified - time.time()) < 60
    # young: left alone, maybe a write in progress
    report = fsck(store)
    assert report.problems == [] and report.young_temporaries == 1
    # old: a killed writer's; repair aborts the upload
    report = fsck(store, now=time.time() + TEMPORARY_GRACE + 60)
    [problem] = report.problems
    assert problem.key == temp.name and problem.removable == "temporary"
    assert f"a temporary file of {10 * MiB} bytes that a killed writer left" in problem.message
    assert repair(store, report) == [problem]
    assert list(backend.temporaries()) == []
    uploads = s3_server.client().list_multipart_uploads(
        Bucket=SHARED_BUCKET, Prefix=backend.location.root
    )
    assert uploads.get("Uploads", []) == []
    # and the value can be written again
    assert store.values.put(BIG).digest == digest and store.values.load(digest) == BIG


@pytest.mark.slow
def test_kill_mid_run_record(s3_url: str, s3_env: dict[str, str], tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    script = _HANG_MID_BODY.format(url=s3_url, mark="second", ready=str(ready))
    script += textwrap.dedent(
        """
        store.records.create_run("KillFlow", run_id="first")
        hang = True
        store.records.create_run("KillFlow", run_id="second", parameters={"p": "x" * 200_000})
        """
    )
    # no checksum is computed up front, so the body is read as it is sent: the kill lands
    # with half of it on the wire
    kill_when_ready(
        script,
        ready,
        env={**s3_env, "AWS_REQUEST_CHECKSUM_CALCULATION": "when_required"},
        timeout=30,
    )
    store = Store(S3Backend(s3_url))
    assert [r.run_id for r in store.records.iter_runs("KillFlow")] == ["first"]
    assert [r.id for r in Flow("KillFlow", store=store).runs()] == ["first"]
    with pytest.raises(NotFoundError, match="run KillFlow/second is not in the store"):
        store.records.get_run("KillFlow", "second")
    assert store.backend.list("runs/KillFlow") == ["first"]


@pytest.mark.slow
def test_kill_mid_task_record(s3_url: str, s3_env: dict[str, str], tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    script = _HANG_MID_BODY.format(url=s3_url, mark="t1.0.json", ready=str(ready))
    script += textwrap.dedent(
        """
        store.records.create_run("KillFlow", run_id="r1", steps=["start"])
        start = store.records.start_task("KillFlow", "r1", "start", "t1")
        refs = {f"x{i}": store.values.put(i) for i in range(200)}
        hang = True
        store.records.finish_task(start.finished("succeeded", artifacts=refs))
        """
    )
    kill_when_ready(
        script,
        ready,
        env={**s3_env, "AWS_REQUEST_CHECKSUM_CALCULATION": "when_required"},
        timeout=30,
    )
    store = Store(S3Backend(s3_url))
    [task] = store.records.list_tasks("KillFlow", "r1", "start")
    assert task.status == "running" and not task.successful and not task.final
    run = Flow("KillFlow", store=store).latest_run
    assert run is not None and not run.finished
    store.records.finish_task(task.finished("killed"))
    assert store.records.get_task("KillFlow", "r1", "start", "t1").status == "killed"


# The mover stops after its conditional copy went through, says so, and hangs: the kill
# lands before the conditional delete of the source.
_HANG_AFTER_COPY = """
import time
from flowkit_s3.backend import S3Backend

backend = S3Backend({url!r})

def after_copy(**_):
    open({ready!r}, "w").close()
    time.sleep(60)

backend._clients().meta.events.register("after-call.s3.CopyObject", after_copy)
backend.move({key!r}, {to!r})
"""


@pytest.mark.slow
@pytest.mark.parametrize("aside", ["trash", "quarantine"])
def test_kill_mid_move(
    s3_url: str,
    s3_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    aside: str,
) -> None:
    # gc moves an unnamed blob to its trash, fsck --repair a damaged one to its quarantine
    store = Store(S3Backend(s3_url))
    value = random.Random(11).randbytes(1000)
    digest = store.values.put(value).digest
    key = blob_key(digest)
    to = trash_key(IdGenerator().new(), digest) if aside == "trash" else quarantine_key(digest)
    ready = tmp_path / "ready"
    script = _HANG_AFTER_COPY.format(url=s3_url, ready=str(ready), key=key, to=to)
    kill_when_ready(script, ready, env=s3_env, timeout=30)
    # copied, not deleted: both keys hold the whole blob
    backend = S3Backend(s3_url)
    assert backend.get(key) == backend.get(to)
    assert read_segments(io.BytesIO(backend.get(to)), digest, to)
    store = Store(backend)
    assert store.values.load(digest) == value
    # whatever fsck finds there, repair fixes
    report = fsck(store)
    assert [p.key for p in report.problems] == ([to] if aside == "quarantine" else [])
    assert all(p.removable for p in report.problems)
    assert repair(store, report) == report.problems
    # quarantine: a copy that verifies goes back (the blob is there); trash: gc's to settle
    assert backend.exists(to) is (aside == "trash")
    assert fsck(store).problems == []
    assert store.values.load(digest) == value
    # the move, made again, completes; the blob comes back the way it would
    assert backend.move(key, to) and not backend.exists(key)
    assert read_segments(io.BytesIO(backend.get(to)), digest, to)
    if aside == "quarantine":
        assert repair(store, fsck(store)) != []  # it verifies: put back
    assert store.values.load(digest) == value  # from the trash, a read puts it back
    assert not backend.exists(to)
    # and gc completes, leaving a sound store
    monkeypatch.setenv("FLOWKIT_CLOCK_SKEW_SECONDS", "0")  # take a blob written just now
    report = collect(store, Policy(keep_last=1, grace=0), now=time.time() + 2)
    assert (report.trashed, report.freed) == (1, 1)
    assert fsck(store).problems == []
    assert list(backend.scan("")) == []  # named by no run: gc took it
