"""Slurm jobs on an S3 store: nothing shared between the scheduler and the jobs but the bucket
(and the environment sbatch exports), as on a cluster without a shared file system.

The S3 server is the S3 extension's test server (SeaweedFS on 127.0.0.1), started here.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from slurmcluster import SlurmCluster

ROOT = Path(__file__).resolve().parents[3]
S3_TESTS = ROOT / "extensions" / "flowkit-s3" / "tests"

FLOW = """\
from flowkit import FlowSpec, Parameter, step


class S3SlurmFlow(FlowSpec):
    n = Parameter("n", default=6)

    @step
    def start(self):
        self.items = list(range(self.n))
        self.next(self.square, foreach="items")

    @step
    def square(self):
        print("squaring", self.input)
        self.value = self.input * self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.value for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    S3SlurmFlow()
"""


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """SeaweedFS on 127.0.0.1 with a bucket ``slurm``."""
    sys.path.insert(0, str(S3_TESTS))
    try:
        import seaweedfs
    finally:
        sys.path.remove(str(S3_TESTS))
    try:
        with seaweedfs.running(tmp_path_factory.mktemp("seaweedfs")) as server:
            server.create_bucket("slurm")
            yield server
    except seaweedfs.WeedMissing as exc:
        if os.environ.get("FLOWKIT_REQUIRE_SERVICES") == "1":
            pytest.fail(f"{exc} (FLOWKIT_REQUIRE_SERVICES=1: the S3 test server must run)")
        pytest.skip(str(exc))


@pytest.mark.slow
def test_a_flow_on_slurm_keeps_everything_in_s3(
    s3: Any, slurm_cluster: SlurmCluster, tmp_path: Path
) -> None:
    (tmp_path / "flow.py").write_text(FLOW)
    store = "s3://slurm/e2e"
    aws = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "FLOWKIT_"))}
    env = {**aws, **s3.env(), **slurm_cluster.env(), "FLOWKIT_STORE": store}
    env["PYTHONPATH"] = str(ROOT)
    output = tmp_path / "slurm-output"
    done = subprocess.run(
        [sys.executable, "flow.py", "run", "--with", f"slurm:output_dir={output}"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "squaring 5" in done.stdout + done.stderr  # echoed from the log in S3

    read = (
        "from flowkit import Flow; run = Flow('S3SlurmFlow').latest_run; "
        "print(run.successful, run['join'].task.data.total, len(list(run['square'])))"
    )
    back = subprocess.run(
        [sys.executable, "-c", read], env=env, capture_output=True, text=True, timeout=60
    )
    assert back.stdout.split() == ["True", str(sum(i * i for i in range(6))), "6"], back.stderr
    # the jobs kept nothing on this machine's disk but Slurm's output of failed jobs: none
    assert not output.exists() or not any(output.rglob("*.out"))
    jobs = slurm_cluster.command(
        "squeue", "--states=all", "--array", "--noheader", "-o", "%j|%T"
    ).stdout.split()
    ours = [j for j in jobs if j.startswith("flowkit:S3SlurmFlow/")]
    assert len(ours) == 9 and all(j.endswith("|COMPLETED") for j in ours), jobs
