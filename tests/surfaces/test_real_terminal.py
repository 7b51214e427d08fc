"""The live view in a real terminal: the screen and scrollback a user is left with are clean.

The run is fed from a child process whose stderr is a pseudo-terminal, so the view picks live
mode by itself. Its bytes go through a small VT screen that keeps erased lines in a
scrollback, the way tmux does (whole-screen erases there once left stale blocks).
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from tests.surfaces.vt import Screen

pty = pytest.importorskip("pty")
fcntl = pytest.importorskip("fcntl")
termios = pytest.importorskip("termios")

COLUMNS, ROWS = 70, 20

# A run as the scheduler reports it, paced like a real one so the refresh thread draws too:
# a fan-out with output from every task, then more steps than the terminal has rows.
SCRIPT = r"""
import time
from flowkit.runtime.events import RunFinished, RunStarted, StepInfo
from flowkit.surfaces.terminal import TerminalView
from tests.surfaces.events import log, task

names = ["start", "train"] + [f"s{i:02d}" for i in range(25)] + ["end"]
steps = tuple(StepInfo(n, tuple(names[i + 1 : i + 2]), "linear", False) for i, n in enumerate(names))
view = TerminalView()  # sys.stderr, which is the terminal: live mode by itself
assert view.live
view.handle(RunStarted("BigFlow", "99", "/tmp/store", steps, time.time()))
view.handle(task("start", "0", "running"))
view.handle(log("start", "0", "loading 1000 rows"))
time.sleep(0.3)
view.handle(task("start", "0", "succeeded"))
for i in range(40):
    view.handle(task("train", f"t{i}", "running"))
    view.handle(log("train", f"t{i}", f"model {i}: loss=0.{i:02d} " + "=" * i * 2))
    if i % 10 == 0:
        time.sleep(0.05)
    view.handle(task("train", f"t{i}", "succeeded"))
for i, name in enumerate(names[2:]):
    view.handle(task(name, str(i), "running"))
    time.sleep(0.01)
    view.handle(task(name, str(i), "succeeded"))
view.handle(RunFinished("BigFlow", "99", "succeeded", time.time(), {"succeeded": 67}))
view.close()
"""

LOGS = ["[start/0] loading 1000 rows"] + [
    (f"[train/t{i}] model {i}: loss=0.{i:02d} " + "=" * i * 2).rstrip() for i in range(40)
]


def assert_clean(lines: list[str]) -> None:
    """Every log line once and whole, then one final block with every step, then the summary."""
    assert lines[0] == "▶ BigFlow/99 started (store: /tmp/store)"
    assert lines[1 : 1 + len(LOGS)] == LOGS
    block = lines[1 + len(LOGS) :]
    assert block[0].startswith("BigFlow/99  succeeded  ")
    assert [line[:16] for line in block[1:4]] == [
        "  ✓ start  done ",
        "  ✓ train  done ",
        "  ✓ s00    done ",
    ]
    assert block[2].endswith("  40 done")
    assert block[-2].startswith("  ✓ end    done ")
    assert block[-1].startswith("✓ BigFlow/99 succeeded: 67 tasks in ")
    assert len(block) == 1 + 28 + 1


def unwrap(screen: Screen, raw_lines: list[str]) -> list[str]:
    """Join the rows a long log line wrapped onto (the block itself never wraps)."""
    lines: list[str] = []
    for row in raw_lines:
        if (
            lines
            and len(lines[-1]) % screen.width == 0
            and not row.startswith(("[", " ", "B", "✓"))
        ):
            lines[-1] += row
        else:
            lines.append(row)
    return lines


def run_in_pty() -> bytes:
    """Run SCRIPT with stdout and stderr on a fresh pseudo-terminal; return what it wrote."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TERM": "xterm-256color"}
    process = subprocess.Popen(
        [sys.executable, "-c", SCRIPT], stdin=slave, stdout=slave, stderr=slave, cwd=ROOT, env=env
    )
    os.close(slave)
    chunks = []
    try:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child, the last holder of the other end, is gone
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(master)
    assert process.wait(timeout=30) == 0, b"".join(chunks).decode(errors="replace")
    return b"".join(chunks)


def test_live_view_in_a_pseudo_terminal_leaves_a_clean_screen() -> None:
    raw = run_in_pty().decode("utf-8")
    assert "\x1b[1A\x1b[2K" in raw  # it really redrew in place
    screen = Screen(COLUMNS, ROWS).feed(raw)
    assert_clean(unwrap(screen, screen.text))
