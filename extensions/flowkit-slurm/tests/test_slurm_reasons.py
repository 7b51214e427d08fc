"""Why a job ended without its task's final record: Slurm's state and the job's output file
become the task's error (a lost task is retried; a failed one counts as a crash)."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowkit.executor.base import Failed, Lost
from flowkit_slurm.commands import JobState
from flowkit_slurm.reasons import explain

TRAILER = "flowkit-slurm: exit status"


@pytest.fixture
def output(tmp_path: Path) -> Path:
    path = tmp_path / "job-12_3.out"
    path.write_text(f"/no/python: No such file or directory\n{TRAILER} 127\n")
    return path


def test_node_fail_is_lost_with_the_output(output: Path) -> None:
    got = explain("k", "12_3", JobState("NODE_FAIL", "None"), output, began=True)
    assert got == Lost(
        "k",
        "Slurm job 12_3 ended without the task's final record (NODE_FAIL): its node failed; "
        "its output "
        f"({output}):\n/no/python: No such file or directory",
    )


@pytest.mark.parametrize(
    ("state", "why"),
    [("BOOT_FAIL", "its node failed to boot"), ("PREEMPTED", "it was preempted")],
)
def test_other_machine_failures_are_lost(tmp_path: Path, state: str, why: str) -> None:
    got = explain("k", "7", JobState(state, "None"), tmp_path / "none.out", began=False)
    assert got == Lost("k", f"Slurm job 7 ended before the task started ({state}): {why}")


def test_a_job_slurm_no_longer_knows_is_lost(tmp_path: Path) -> None:
    got = explain("k", "9", None, tmp_path / "missing.out", began=False)
    assert got == Lost(
        "k", "Slurm job 9 ended before the task started and Slurm no longer knows it"
    )


def test_cancelled_outside_flowkit(output: Path) -> None:
    got = explain("k", "12_3", JobState("CANCELLED", "None"), output, began=True)
    assert got == Failed(
        "k",
        -15,
        "Slurm job 12_3 ended without the task's final record (CANCELLED): it was cancelled "
        f"outside flowkit (scancel); its output ({output}):\n"
        "/no/python: No such file or directory",
    )


@pytest.mark.parametrize("state", ["TIMEOUT", "DEADLINE"])
def test_time_limit(tmp_path: Path, state: str) -> None:
    out = tmp_path / "t.out"
    out.write_text("slurmstepd: error: *** JOB 5 CANCELLED DUE TO TIME LIMIT ***\n")
    got = explain("k", "5", JobState(state, "TimeLimit"), out, began=True)
    assert got == Failed(
        "k",
        -9,
        f"Slurm job 5 ended without the task's final record ({state}, TimeLimit): it reached "
        f"its Slurm time limit; its output ({out}):\n"
        "slurmstepd: error: *** JOB 5 CANCELLED DUE TO TIME LIMIT ***",
    )


def test_out_of_memory(tmp_path: Path) -> None:
    got = explain("k", "5", JobState("OUT_OF_MEMORY", "OutOfMemory"), tmp_path / "x", began=True)
    assert got == Failed(
        "k",
        -9,
        "Slurm job 5 ended without the task's final record (OUT_OF_MEMORY, OutOfMemory): it "
        "ran out of memory (ask for more: @resources)",
    )


def test_failed_takes_the_trailers_status(output: Path) -> None:
    got = explain("k", "12_3", JobState("FAILED", "NonZeroExitCode"), output, began=False)
    assert got == Failed(
        "k",
        127,
        "Slurm job 12_3 ended before the task started (FAILED, NonZeroExitCode); its output "
        f"({output}):\n/no/python: No such file or directory",
    )


def test_failed_without_a_trailer_or_output_is_status_1(tmp_path: Path) -> None:
    got = explain("k", "4", JobState("FAILED", "None"), tmp_path / "gone.out", began=False)
    assert got == Failed("k", 1, "Slurm job 4 ended before the task started (FAILED)")
    setup_died = tmp_path / "setup.out"
    setup_died.write_text("module: command not found\n")
    got = explain("k", "4", JobState("FAILED", ""), setup_died, began=False)
    assert got == Failed(
        "k",
        1,
        f"Slurm job 4 ended before the task started (FAILED); its output ({setup_died}):\n"
        "module: command not found",
    )


def test_a_long_output_is_quoted_from_its_end_and_capped(tmp_path: Path) -> None:
    out = tmp_path / "long.out"
    lines = [f"line {i:05d} " + "x" * 40 for i in range(2000)]
    out.write_text("\n".join(lines) + f"\nthe real error\n{TRAILER} 3\n")
    got = explain("k", "8", JobState("FAILED", "NonZeroExitCode"), out, began=True)
    assert isinstance(got, Failed) and got.status == 3 and got.reason is not None
    head = f"Slurm job 8 ended without the task's final record (FAILED, NonZeroExitCode); its output ({out}):\n"
    assert got.reason.startswith(head)
    quoted = got.reason[len(head) :]
    assert quoted.endswith("\nthe real error")
    assert len(quoted.encode()) <= 2000
    assert "line 00000" not in quoted and lines[-1] in quoted


def test_undecodable_output_is_quoted_with_replacements(tmp_path: Path) -> None:
    out = tmp_path / "bin.out"
    out.write_bytes(b"bad \xff byte\n" + f"{TRAILER} 2\n".encode())
    got = explain("k", "8", JobState("FAILED", "None"), out, began=True)
    assert isinstance(got, Failed) and got.status == 2
    assert got.reason is not None and got.reason.endswith(":\nbad \ufffd byte")
