"""Headless Chromium for the screenshots of the MLflow UI: Debian's Chromium (never a browser
Playwright downloads), driven by Playwright's sync API. Missing, it skips the test, or fails it
under FLOWKIT_REQUIRE_SERVICES=1. (The extension's own: its tests import none of the core's.)"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
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
