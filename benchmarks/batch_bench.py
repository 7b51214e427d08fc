"""AWS Batch executor benchmark: what a wide foreach costs in Batch API calls, on the tests'
local Batch (moto's server on 127.0.0.1 as the control plane, the tests' runner running each
submitted job, SeaweedFS as the S3 store; needs flowkit-aws-batch[test] and flowkit-s3[test]).

    python -m benchmarks.batch_bench [--splits 1000] [--workers 4]

The flow runs as a user runs it (``python fan.py run --with batch:...``), with every Batch
API call of the scheduler's process counted by operation. Metaflow makes one ``SubmitJob``
per task (no array jobs) and about one ``DescribeJobs`` per task per second (a babysitter
process per task).
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
TESTS = [ROOT / "extensions" / name / "tests" for name in ("flowkit-aws-batch", "flowkit-s3")]

#: Imported by the scheduler's process (PYTHONPATH): logs each Batch API call it makes.
_COUNTER = """\
import os
_log = os.environ.get("FLOWKIT_BENCH_BATCH_CALLS")
if _log:
    import botocore.client

    _real = botocore.client.BaseClient._make_api_call

    def _counted(self, operation, params):
        if self.meta.service_model.service_name == "batch":
            ids = len(params.get("jobs", ())) if operation == "DescribeJobs" else 0
            with open(_log, "a") as log:
                log.write(f"{operation} {ids}\\n")
        return _real(self, operation, params)

    botocore.client.BaseClient._make_api_call = _counted
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--splits", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=4, help="jobs the runner runs at once")
    args = parser.parse_args()
    sys.path[:0] = [str(t) for t in TESTS]
    import seaweedfs
    from batchsim import Runner, combined_env, running

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        with (
            running(folder / "moto") as batch,
            seaweedfs.running(folder / "s3") as s3,
        ):
            s3.create_bucket("bench")
            env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "FLOWKIT_"))}
            env |= combined_env(batch, s3.env())
            (folder / "fan.py").write_text(FOREACH)
            (folder / "sitecustomize.py").write_text(_COUNTER)
            log = folder / "calls.txt"
            run_env = {
                **env,
                "PYTHONPATH": os.pathsep.join([str(folder), str(ROOT)]),
                "FLOWKIT_STORE": "s3://bench/fan",
                "FLOWKIT_BENCH_BATCH_CALLS": str(log),
            }
            with Runner(batch, folder / "jobs", env, workers=args.workers):
                started = time.perf_counter()
                subprocess.run(
                    [
                        *(sys.executable, "fan.py", "run", "--quiet", "--n", str(args.splits)),
                        *("--with", f"batch:queue={batch.queue},image=python:3.11"),
                    ],
                    cwd=folder,
                    env=run_env,
                    check=True,
                )
                wall = time.perf_counter() - started
        calls: collections.Counter[str] = collections.Counter()
        described = 0
        for line in log.read_text().splitlines() if log.exists() else []:
            operation, ids = line.split()
            calls[operation] += 1
            described += int(ids)
    tasks = args.splits + 3
    print(f"foreach {args.splits} on the local Batch: {wall:.1f} s ({tasks} tasks)")
    print(
        f"  Batch API calls: {sum(calls.values())} in all, {sum(calls.values()) / tasks:.3f} per task"
    )
    for operation, count in calls.most_common():
        print(f"    {operation:24s} {count:6d}  ({count / tasks:.3f} per task)")
    if calls["DescribeJobs"]:
        print(f"  ids per DescribeJobs call: {described / calls['DescribeJobs']:.1f} on average")
    print(
        f"  Metaflow would make {tasks} SubmitJob calls and about {tasks} DescribeJobs calls "
        f"per second of the fan-out ({tasks} babysitters polling one job each)"
    )


if __name__ == "__main__":
    main()
