"""The test cluster itself: jobs run on it, it listens on 127.0.0.1 only, it takes GPU and
scheduling options, a node failure is seen quickly, and stopping it leaves nothing behind."""

from __future__ import annotations

import os
import re
import socket
import time
from pathlib import Path

import pytest
import slurmcluster
from slurmcluster import SlurmCluster, SlurmDidNotStart, SlurmMissing, running

#: Where an installed Slurm or munge would write if a daemon ignored its configuration.
_SYSTEM_PLACES = (
    "/etc/slurm",
    "/var/log/slurm",
    "/var/lib/slurm",
    "/var/spool/slurm",
    "/var/spool/slurmd",
    "/run/slurm",
    "/run/munge",
    "/var/log/munge",
    "/var/lib/munge",
)


def _submit(cluster: SlurmCluster, *args: str) -> str:
    return cluster.command("sbatch", "--parsable", *args).stdout.strip()


def _squeue(cluster: SlurmCluster, jobs: str) -> tuple[int, str, str]:
    answer = cluster.command(
        "squeue", f"--jobs={jobs}", "-r", "--states=all", "--noheader", "-o", "%i|%T|%r",
        check=False,
    )  # fmt: skip
    return answer.returncode, answer.stdout.strip(), answer.stderr.strip()


def _wait_for_job(cluster: SlurmCluster, job: str, state: str, timeout: float = 30) -> float:
    """Seconds until squeue shows ``job`` in ``state``."""
    start = time.monotonic()
    while state not in _squeue(cluster, job)[1]:
        assert time.monotonic() - start < timeout, _squeue(cluster, job)
        time.sleep(0.1)
    return time.monotonic() - start


def _show_job(cluster: SlurmCluster, job: str) -> dict[str, str]:
    text = cluster.command("scontrol", "show", "job", job).stdout
    return dict(re.findall(r"(\w+)=(\S*)", text))


def _listening(pids: list[int]) -> set[tuple[str, int]]:
    """The (address, port) of every TCP socket the processes ``pids`` listen on."""
    inodes = set()
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[len("socket:[") : -1])
    found = set()
    for table, family in (("/proc/net/tcp", socket.AF_INET), ("/proc/net/tcp6", socket.AF_INET6)):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state, inode = (line.split()[i] for i in (1, 3, 9))
            if state == "0A" and inode in inodes:  # 0A: LISTEN
                address, port = local.split(":")
                raw = bytes.fromhex(address)
                # The kernel prints each 32-bit word of the address in host (little-endian) order.
                raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
                found.add((socket.inet_ntop(family, raw), int(port, 16)))
    return found


def _snapshot() -> dict[str, int]:
    return {
        str(path): path.lstat().st_mtime_ns
        for place in map(Path, _SYSTEM_PLACES)
        if place.exists()
        for path in [place, *place.rglob("*")]
    }


def _sleeping_job(cluster: SlurmCluster, *args: str) -> tuple[str, set[int]]:
    """A job running ``sleep 300``, and its processes: slurmstepd, the batch shell, sleep."""
    job = _submit(cluster, *args, "--output=/dev/null", "--wrap", "sleep 300")
    _wait_for_job(cluster, job, "RUNNING")
    while len(processes := cluster.processes()) < 3:
        time.sleep(0.05)
    return job, processes


def _gone(pids: set[int], timeout: float = 5) -> bool:
    deadline = time.monotonic() + timeout
    while any(Path(f"/proc/{pid}").exists() for pid in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_a_job_runs_and_its_output_appears(slurm_cluster: SlurmCluster, tmp_path: Path) -> None:
    job = _submit(
        slurm_cluster, f"--output={tmp_path / 'out'}", "--wrap", "echo hello $SLURM_JOB_ID"
    )
    _wait_for_job(slurm_cluster, job, "COMPLETED")
    assert (tmp_path / "out").read_text() == f"hello {job}\n"
    assert _squeue(slurm_cluster, job) == (0, f"{job}|COMPLETED|None", "")
    finished = (slurm_cluster.folder / "jobcomp.txt").read_text()
    assert f"JobId={job} " in finished and "JobState=COMPLETED" in finished


def test_slurm_env_points_slurm_commands_at_the_cluster(slurm_env: dict[str, str]) -> None:
    assert os.environ["SLURM_CONF"] == slurm_env["SLURM_CONF"]
    assert Path(slurm_env["SLURM_CONF"]).read_text().startswith("ClusterName=flowkit\n")


def test_the_daemons_listen_on_127_0_0_1_only(slurm_cluster: SlurmCluster) -> None:
    pids = slurm_cluster.daemon_pids()
    assert sorted(pids) == ["munged", "slurmctld", "slurmd"]
    listening = _listening(list(pids.values()))
    assert listening == {("127.0.0.1", port) for port in slurm_cluster.ports}
    # munged answers on a unix socket of the cluster's folder
    assert (slurm_cluster.folder / "munge" / "sock").is_socket()


def test_a_gpu_job_gets_its_gres(slurm_cluster: SlurmCluster, tmp_path: Path) -> None:
    command = "echo $CUDA_VISIBLE_DEVICES"
    by_gres = _submit(
        slurm_cluster, "--gres=gpu:1", f"--output={tmp_path / 'a'}", "--wrap", command
    )
    by_gpus = _submit(slurm_cluster, "--gpus=2", f"--output={tmp_path / 'b'}", "--wrap", command)
    _wait_for_job(slurm_cluster, by_gres, "COMPLETED")
    _wait_for_job(slurm_cluster, by_gpus, "COMPLETED")
    assert _show_job(slurm_cluster, by_gres)["TresPerNode"] == "gres:gpu:1"
    assert _show_job(slurm_cluster, by_gpus)["TresPerJob"] == "gres:gpu:2"
    assert (tmp_path / "a").read_text() in ("0\n", "1\n")
    assert (tmp_path / "b").read_text() == "0,1\n"
    refused = slurm_cluster.command("sbatch", "--gres=gpu:3", "--wrap", "true", check=False)
    assert refused.returncode == 1
    assert "Requested node configuration is not available" in refused.stderr


def test_scheduling_options_reach_the_job(slurm_cluster: SlurmCluster) -> None:
    job = _submit(
        slurm_cluster, "--partition=gpu", "--account=lab", "--qos=high", "--constraint=fast",
        "--time=5", "--cpus-per-task=2", "--mem=1G", "--hold", "--output=/dev/null",
        "--wrap", "true",
    )  # fmt: skip
    shown = _show_job(slurm_cluster, job)
    slurm_cluster.command("scancel", job)
    assert {name: shown[name] for name in ("Partition", "Account", "Features", "TimeLimit")} == {
        "Partition": "gpu",
        "Account": "lab",
        "Features": "fast",
        "TimeLimit": "00:05:00",
    }
    assert "cpu=2,mem=1G" in shown["TRES"]
    # without an accounting database a QOS is accepted and dropped
    assert shown["QOS"] == "(null)"
    refused = slurm_cluster.command("sbatch", "--constraint=slow", "--wrap", "true", check=False)
    assert "Invalid feature specification" in refused.stderr


def test_without_slurm_running_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(slurmcluster, "_SBIN", str(tmp_path))
    install = r"bash scripts/install-test-services\.sh"
    with pytest.raises(SlurmMissing, match=install), running(tmp_path / "cluster"):
        pass
    assert not (tmp_path / "cluster").exists()


def test_a_daemon_that_cannot_start_is_reported_with_its_log(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    folder = tmp_path_factory.mktemp("slurm")
    with (
        pytest.raises(SlurmDidNotStart, match=r"(?s)slurmctld exited \(1\):.*select/nowhere"),
        running(folder, settings={"SelectType": "select/nowhere"}),
    ):
        pass
    assert "SelectType=select/nowhere\n" in (folder / "slurm.conf").read_text()


def test_a_folder_too_long_for_slurmstepd_sockets_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="too long"), running(tmp_path / ("x" * 60)):
        pass


@pytest.mark.slow
def test_a_second_cluster_runs_beside_and_stops_completely(
    slurm_cluster: SlurmCluster, tmp_path_factory: pytest.TempPathFactory
) -> None:
    before = _snapshot()
    with pytest.raises(KeyboardInterrupt), running(tmp_path_factory.mktemp("slurm")) as second:
        assert set(second.ports).isdisjoint(slurm_cluster.ports)
        _, jobs = _sleeping_job(second)
        pids = set(second.daemon_pids().values())
        raise KeyboardInterrupt
    assert _gone(pids | jobs)
    assert second.processes() == set()
    assert _snapshot() == before
    # the first one goes on
    job = _submit(slurm_cluster, "--output=/dev/null", "--wrap", "true")
    _wait_for_job(slurm_cluster, job, "COMPLETED")


@pytest.mark.slow
def test_a_killed_slurmd_fails_its_jobs_and_comes_back(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    with running(tmp_path_factory.mktemp("slurm")) as cluster:
        job, processes = _sleeping_job(cluster, "--no-requeue")
        cluster.kill_slurmd()
        assert "slurmd" not in cluster.daemon_pids()
        assert _wait_for_job(cluster, job, "NODE_FAIL", timeout=25) < 20
        assert _squeue(cluster, job) == (0, f"{job}|NODE_FAIL|NodeDown", "")
        assert cluster.node_state() == "down*"
        # the job's processes outlive slurmd, and the restarted slurmd ends them
        assert cluster.processes() == processes
        cluster.start_slurmd()
        cluster.wait_for_node(timeout=10)
        assert _gone(processes)
        again = _submit(cluster, "--output=/dev/null", "--wrap", "true")
        _wait_for_job(cluster, again, "COMPLETED")


@pytest.mark.slow
def test_squeue_forgets_a_job_after_min_job_age(tmp_path_factory: pytest.TempPathFactory) -> None:
    with running(tmp_path_factory.mktemp("slurm"), min_job_age=1) as cluster:
        done = _submit(cluster, "--output=/dev/null", "--wrap", "true")
        _wait_for_job(cluster, done, "COMPLETED")
        start = time.monotonic()
        while _squeue(cluster, done)[1]:
            assert time.monotonic() - start < 20
            time.sleep(0.2)
        unknown = (1, "", "slurm_load_jobs error: Invalid job id specified")
        assert _squeue(cluster, done) == unknown
        held = _submit(cluster, "--hold", "--output=/dev/null", "--wrap", "true")
        # among several ids, unknown ones are left out, even when none is known
        assert _squeue(cluster, f"{done},{held}") == (0, f"{held}|PENDING|JobHeldUser", "")
        assert _squeue(cluster, f"{done},999999") == (0, "", "")
        assert _squeue(cluster, "999999") == unknown
