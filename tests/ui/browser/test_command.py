"""``flowkit ui`` as a user starts it: the real command, its printed URL, a page it serves."""

from __future__ import annotations

import os
import queue
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.ui.browser.conftest import expect, open_page
from tests.ui.conftest import UiStore

pytestmark = pytest.mark.slow

URL = re.compile(r"http://127\.0\.0\.1:(\d+)/\S*")


@pytest.fixture
def served(ui_store: UiStore) -> Iterator[str]:
    """``python -m flowkit ui --store S --port 0 --no-browser``'s URL, read from its output;
    the process is stopped at the end."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, "-m", "flowkit", "ui", "--store", str(ui_store.path)]
    process = subprocess.Popen(
        [*argv, "--port", "0", "--no-browser"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    said: list[str] = []
    try:
        while True:
            line = lines.get(timeout=60)
            if line is None:
                pytest.fail(f"flowkit ui exited ({process.wait()}) saying: {''.join(said)}")
            said.append(line)
            found = URL.search(line)
            if found:
                break
        yield found.group(0).rstrip("/")
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()  # never leave a server behind, even one that hangs on SIGTERM
            process.wait(timeout=30)
            raise


def test_flowkit_ui_command_serves_the_runs(browser: Any, served: str, ui_store: UiStore) -> None:
    for ui in open_page(browser, served):
        ui.goto("/")
        rows = ui.page.locator("[data-testid=runs-table] tr[data-run]")
        expect(rows).to_have_count(4)
        expect(rows.first).to_have_attribute("data-run", f"FixableFlow/{ui_store.resumed}")
