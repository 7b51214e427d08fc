"""Headless Chromium for the tests that look at HTML in a browser (the web UI's pages, the
notebook displays): Debian's Chromium, never a browser Playwright downloads, driven by
Playwright's sync API. Missing, it skips the test, or fails it under FLOWKIT_REQUIRE_SERVICES=1."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import pytest

from tests.conftest import require


def fail_or_skip(reason: str) -> NoReturn:
    if os.environ.get("FLOWKIT_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason} (FLOWKIT_REQUIRE_SERVICES=1; scripts/install-test-services.sh)")
    pytest.skip(reason)


def chromium_path() -> str | None:
    """Debian's Chromium (never a browser Playwright downloads), or the executable
    ``FLOWKIT_TEST_CHROMIUM`` names; None when it is not there."""
    named = os.environ.get("FLOWKIT_TEST_CHROMIUM")
    if named:
        return named if os.access(named, os.X_OK) and Path(named).is_file() else None
    found = shutil.which("chromium")
    if found:
        return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


@contextmanager
def chromium() -> Iterator[Any]:
    """A launched headless Chromium (a Playwright ``Browser``), closed on leaving."""
    sync_api = require("playwright.sync_api")
    executable = chromium_path()
    if executable is None:
        named = os.environ.get("FLOWKIT_TEST_CHROMIUM")
        where = f"FLOWKIT_TEST_CHROMIUM={named} is not an executable" if named else "no chromium"
        fail_or_skip(f"Chromium is not installed: {where} (apt-get install chromium)")
    with _playwright(sync_api) as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


#: This process's Playwright while someone uses it, and how many do.
_SHARED: dict[str, Any] = {}


@contextmanager
def _playwright(sync_api: Any) -> Iterator[Any]:
    """One Playwright for whoever uses one at once, stopped when the last of them is done:
    its sync API runs an asyncio loop in this thread while it is open, so a second one (a
    test's own while the UI tests' session browser is open) would refuse to start."""
    if not _SHARED:
        _SHARED.update(playwright=sync_api.sync_playwright().start(), users=0)
    _SHARED["users"] += 1
    try:
        yield _SHARED["playwright"]
    finally:
        _SHARED["users"] -= 1
        if not _SHARED["users"]:
            _SHARED.pop("playwright").stop()
            _SHARED.clear()
