"""S3 store benchmark, against SeaweedFS started on 127.0.0.1 (needs flowkit-s3[test]).

    python -m benchmarks.s3_bench [--splits 1000] [--mb 300]

- a foreach of ``--splits`` tiny tasks run as a user runs it (``python flow.py run``), with
  every S3 request counted by operation in every process (scheduler, warm worker, tasks);
- a ``--mb`` MB artifact stored and read back through the store, beside the same bytes moved
  with boto3's ``upload_file`` / ``download_file`` alone;
- a fresh process reading one artifact (``Flow(...).latest_run[...].task.data.x``).
"""

from __future__ import annotations

import argparse
import collections
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.flows import FOREACH

ROOT = Path(__file__).resolve().parents[1]
S3_TESTS = ROOT / "extensions" / "flowkit-s3" / "tests"

#: Imported by every process of a benchmarked run (PYTHONPATH): counts each S3 call made.
_COUNTER = """\
import os
_log = os.environ.get("FLOWKIT_BENCH_S3_CALLS")
if _log:
    import botocore.client

    _real = botocore.client.BaseClient._make_api_call

    def _counted(self, operation, params):
        fd = os.open(_log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.write(fd, (operation + "\\n").encode())
        os.close(fd)
        return _real(self, operation, params)

    botocore.client.BaseClient._make_api_call = _counted
"""

READ_ONE = "from flowkit import Flow; print(Flow('FanFlow').latest_run['join'].task.data.total)"


def _calls(log: Path) -> collections.Counter[str]:
    return collections.Counter(log.read_text().split()) if log.exists() else collections.Counter()


def bench_foreach(env: dict[str, str], folder: Path, splits: int) -> None:
    (folder / "fan.py").write_text(FOREACH)
    (folder / "sitecustomize.py").write_text(_COUNTER)
    log = folder / "calls.txt"
    run_env = {
        **env,
        "PYTHONPATH": os.pathsep.join([str(folder), str(ROOT)]),
        "FLOWKIT_BENCH_S3_CALLS": str(log),
    }
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "fan.py", "run", "--quiet", "--n", str(splits), "--max-workers", "2"],
        cwd=folder,
        env=run_env,
        check=True,
    )
    wall = time.perf_counter() - started
    calls = _calls(log)
    tasks = splits + 3
    puts = calls["PutObject"] + calls["CompleteMultipartUpload"]
    print(f"foreach {splits}: {wall:.2f} s, {tasks / wall:.0f} tasks/s")
    print(
        f"  S3 requests: {sum(calls.values())} in all, {sum(calls.values()) / tasks:.2f} per task"
    )
    print(f"  PUTs per task: {puts / tasks:.2f}")
    for operation, count in calls.most_common():
        print(f"    {operation:28s} {count:6d}  ({count / tasks:.2f} per task)")

    log.unlink()
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", READ_ONE], cwd=folder, env=run_env, check=True, capture_output=True
    )
    read = time.perf_counter() - started
    print(
        f"fresh process reading one artifact: {read:.2f} s "
        f"({sum(_calls(log).values())} S3 requests; value {done.stdout.decode().strip()})"
    )


def bench_transfer(server: object, url: str, folder: Path, mb: int) -> None:
    import numpy as np

    from flowkit.store import open_store

    data = np.random.default_rng(0).integers(0, 255, mb << 20, dtype=np.uint8)
    store = open_store(url)
    started = time.perf_counter()
    ref = store.values.put(data)
    put = time.perf_counter() - started
    started = time.perf_counter()
    back = open_store(url).values.load(ref.digest)
    get = time.perf_counter() - started
    assert np.array_equal(back, data)
    del back

    path = folder / "raw.bin"
    data.tofile(path)
    client = server.client()  # type: ignore[attr-defined]
    bucket = url.removeprefix("s3://").split("/", 1)[0]
    started = time.perf_counter()
    client.upload_file(str(path), bucket, "raw/object")
    up = time.perf_counter() - started
    started = time.perf_counter()
    client.download_file(bucket, "raw/object", str(folder / "back.bin"))
    down = time.perf_counter() - started
    print(
        f"{mb} MB artifact: persist {mb / put:.0f} MB/s ({put:.2f} s), read {mb / get:.0f} MB/s ({get:.2f} s)"
    )
    print(
        f"  boto3 alone:  upload_file {mb / up:.0f} MB/s ({up:.2f} s), download_file {mb / down:.0f} MB/s ({down:.2f} s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--splits", type=int, default=1000)
    parser.add_argument("--mb", type=int, default=300)
    args = parser.parse_args()
    sys.path.insert(0, str(S3_TESTS))
    from seaweedfs import running  # the tests' own server, started the same way

    with tempfile.TemporaryDirectory() as tmp, running(Path(tmp) / "server") as server:
        folder = Path(tmp)
        server.create_bucket("bench")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "FLOWKIT_"))}
        env |= server.env()
        os.environ.update(server.env())
        bench_foreach({**env, "FLOWKIT_STORE": "s3://bench/fan"}, folder, args.splits)
        bench_transfer(server, "s3://bench/big", folder, args.mb)


if __name__ == "__main__":
    main()
