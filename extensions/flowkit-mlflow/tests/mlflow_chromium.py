"""Headless Chromium for the screenshots of the MLflow UI: Debian's Chromium (never a browser
Playwright downloads), driven by Playwright's sync API in a thread of its own. Missing, it
skips the test, or fails it under FLOWKIT_REQUIRE_SERVICES=1. (The extension's own: its tests
import none of the core's.)

Its own thread, because Playwright's sync API keeps an asyncio loop running in the thread that
started it for as long as it is open, and refuses to start where one runs: in one pytest
process, the core's UI tests keep their browser open until the session ends."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest


@contextmanager
def chromium() -> Iterator[Any]:
    """A launched headless Chromium (a Playwright ``Browser``), closed on leaving."""
    executable = os.environ.get("FLOWKIT_TEST_CHROMIUM") or shutil.which("chromium")
    if executable is None and Path("/usr/bin/chromium").exists():
        executable = "/usr/bin/chromium"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        executable = None
    if executable is None or not os.access(executable, os.X_OK):
        reason = "Chromium or Playwright is not installed (scripts/install-test-services.sh)"
        if os.environ.get("FLOWKIT_REQUIRE_SERVICES") == "1":
            pytest.fail(f"{reason}; FLOWKIT_REQUIRE_SERVICES=1")
        pytest.skip(reason)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


def with_chromium(use: Callable[[Any], None]) -> None:
    """``use(browser)`` with a launched headless Chromium, in a thread of its own; what it
    raises (a failed assertion, pytest's skip or fail) is raised here."""
    raised: list[BaseException] = []

    def run() -> None:
        try:
            with chromium() as browser:
                use(browser)
        except BaseException as exc:  # handed to the test's own thread
            raised.append(exc)

    thread = threading.Thread(target=run, name="chromium")
    thread.start()
    thread.join()
    if raised:
        raise raised[0]
