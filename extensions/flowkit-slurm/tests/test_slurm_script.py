"""The batch script, run for real with bash (no Slurm needed): the key its array element
picks, quoting, setup first, and the trailer that says the program's exit status."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from flowkit_slurm.script import batch_script, exit_status, without_trailer

#: A stand-in interpreter: prints each argument on a line of its own, exits with $FAKE_EXIT.
_FAKE_PYTHON = """#!/bin/bash
for arg in "$@"; do printf 'arg:%s\\n' "$arg"; done
echo "to stderr" >&2
exit "${FAKE_EXIT:-0}"
"""


@pytest.fixture
def fake_python(tmp_path: Path) -> Path:
    path = tmp_path / "fake python"  # a space in the interpreter's own path, too
    path.write_text(_FAKE_PYTHON)
    path.chmod(0o755)
    return path


def _run(
    script: str, tmp_path: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "job.sh"
    path.write_text(script)
    base = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    return subprocess.run(
        ["bash", str(path)],
        env={**base, **(env or {})},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )


def _args(out: str) -> list[str]:
    return [line[4:] for line in out.splitlines() if line.startswith("arg:")]


KEYS = ["k0", "k1", "k2", "k3"]


@pytest.mark.parametrize(("index", "key"), [("0", "k0"), ("1", "k1"), ("3", "k3")])
def test_an_array_element_runs_its_own_key(
    fake_python: Path, tmp_path: Path, index: str, key: str
) -> None:
    script = batch_script(str(fake_python), [], ["flowkit.worker", "--quiet", "/store"], KEYS)
    done = _run(script, tmp_path, {"SLURM_ARRAY_TASK_ID": index})
    assert done.returncode == 0, done.stderr
    assert _args(done.stdout) == ["-m", "flowkit.worker", "--quiet", "/store", key]


def test_a_single_job_without_an_array_index_runs_the_first_key(
    fake_python: Path, tmp_path: Path
) -> None:
    script = batch_script(str(fake_python), [], ["flowkit.worker", "/store"], ["only"])
    done = _run(script, tmp_path)
    assert _args(done.stdout) == ["-m", "flowkit.worker", "/store", "only"]


def test_without_keys_the_command_takes_no_key(fake_python: Path, tmp_path: Path) -> None:
    script = batch_script(str(fake_python), [], ["flowkit.driver", "/store", "dkey"])
    done = _run(script, tmp_path, {"SLURM_ARRAY_TASK_ID": "2"})
    assert _args(done.stdout) == ["-m", "flowkit.driver", "/store", "dkey"]


NASTY = ["with space", "it's", 'say "hi"', "$HOME and $(echo no) and `echo no`", "a;b|c&d", "*"]


@pytest.mark.parametrize("index", range(len(NASTY)))
def test_values_survive_quoting(fake_python: Path, tmp_path: Path, index: int) -> None:
    store = "/mnt/my store/$USER's"
    script = batch_script(str(fake_python), [], ["flowkit.worker", store], NASTY)
    done = _run(script, tmp_path, {"SLURM_ARRAY_TASK_ID": str(index)})
    assert done.returncode == 0, done.stderr
    assert _args(done.stdout) == ["-m", "flowkit.worker", store, NASTY[index]]
    assert not (tmp_path / "no").exists()


def test_setup_lines_run_first_in_the_same_shell(fake_python: Path, tmp_path: Path) -> None:
    setup = ["echo setup-ran > order.txt", "export FAKE_EXIT=7"]
    script = batch_script(str(fake_python), setup, ["flowkit.worker", "/s"], ["k"], title="t")
    done = _run(script, tmp_path)
    assert (tmp_path / "order.txt").read_text() == "setup-ran\n"
    assert done.returncode == 7  # the interpreter saw what setup exported
    assert script.splitlines()[:2] == ["#!/bin/bash", "# flowkit: t"]


def test_a_failing_setup_line_stops_the_job_and_says_which(
    fake_python: Path, tmp_path: Path
) -> None:
    setup = ["export READY=1", "module_load_that_is_missing python/3.11"]
    script = batch_script(str(fake_python), setup, ["flowkit.worker", "/store"], KEYS)
    done = _run(script, tmp_path)
    assert done.returncode == 127
    assert _args(done.stdout) == []  # the interpreter never ran
    assert "module_load_that_is_missing: command not found" in done.stderr
    assert (
        "flowkit-slurm: the setup line failed: module_load_that_is_missing python/3.11"
        in done.stderr
    )
    assert exit_status(done.stderr) == 127


@pytest.mark.parametrize("status", [0, 1, 3, 137])
def test_the_trailer_gives_the_exit_status(fake_python: Path, tmp_path: Path, status: int) -> None:
    script = batch_script(str(fake_python), [], ["flowkit.worker", "/s"], ["k"])
    done = _run(script, tmp_path, {"FAKE_EXIT": str(status)})
    assert done.returncode == status
    assert exit_status(done.stderr) == status
    assert done.stderr.endswith(f"flowkit-slurm: exit status {status}\n")
    assert without_trailer(done.stderr) == "to stderr"


def test_a_missing_interpreter_exits_127_with_bashs_message(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "python3"
    script = batch_script(str(missing), [], ["flowkit.worker", "/s"], ["k"])
    done = _run(script, tmp_path)
    assert done.returncode == 127
    assert exit_status(done.stderr) == 127
    said = without_trailer(done.stderr)
    assert said.endswith(f"{missing}: No such file or directory"), said
    assert "exit status" not in said


@pytest.mark.parametrize(
    ("output", "status", "rest"),
    [
        ("", None, ""),
        ("hello\n", None, "hello"),
        ("flowkit-slurm: exit status 3\n", 3, ""),
        ("a\nflowkit-slurm: exit status 1\nb\nflowkit-slurm: exit status 2\n", 2, "a\n\nb"),
        ("flowkit-slurm: exit status x\n", None, "flowkit-slurm: exit status x"),
        ("said flowkit-slurm: exit status 4\n", None, "said flowkit-slurm: exit status 4"),
    ],
)
def test_exit_status_reads_the_last_trailer_line(
    output: str, status: int | None, rest: str
) -> None:
    assert exit_status(output) == status
    assert without_trailer(output) == rest
