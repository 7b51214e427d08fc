"""Fixtures of the web UI's browser tests: Debian's Chromium driven by Playwright's sync API,
the UI served by uvicorn on 127.0.0.1 in a thread of its own (Playwright's sync API cannot run
inside an asyncio loop), a page that fails its test on any console or page error, a live run
held open by a gate file, and screenshots under test-outputs/ui/."""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from flowkit.client import Run
from tests.browser import chromium
from tests.conftest import ROOT, require
from tests.ui.conftest import LiveRun, UiStore

#: Where every test run leaves its screenshots, for a reviewer to look at.
SHOTS = ROOT / "test-outputs" / "ui"
#: The screenshots the README shows, refreshed only under FLOWKIT_UPDATE_SCREENSHOTS=1.
README_SHOTS = {"runs", "run", "task"}
#: How long a page gets to show what a test waits for (a loaded CI machine is slow).
WAIT_MS = 15_000


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        from playwright.sync_api import expect as playwright_expect

        playwright_expect.set_options(timeout=WAIT_MS)
        yield launched


def expect(target: Any) -> Any:
    """Playwright's ``expect`` (waiting up to ``WAIT_MS``), imported once a fixture made sure
    Playwright is there."""
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(target)


#: The status colours of docs/ui.md, as a browser computes them.
RED_FILL = "rgb(254, 202, 202)"
RED_TEXT = "rgb(185, 28, 28)"
GREEN_FILL = "rgb(187, 247, 208)"


def colours(locator: Any) -> set[str]:
    """Every computed background, fill and text colour of the element and what it holds."""
    found: list[str] = locator.evaluate(
        """e => [e, ...e.querySelectorAll('*')].flatMap(n => {
            const s = getComputedStyle(n); return [s.backgroundColor, s.color, s.fill]; })"""
    )
    return set(found)


class UiServer:
    """``flowkit ui``'s app over one store's cached reads, served by uvicorn from a thread."""

    def __init__(self, store: str | Path) -> None:
        require("uvicorn")
        import uvicorn

        from flowkit.store import open_store
        from flowkit.store.cached import cached
        from flowkit.ui.app import create_app
        from flowkit.ui.common import UiContext

        # as flowkit ui serves it: write-once reads kept, so a live page sees the run go on
        app = create_app(UiContext(cached(open_store(str(store)))))
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the UI's server did not start")
            time.sleep(0.02)
        port = self._server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=30)
        assert not self._thread.is_alive(), f"the UI's server at {self.url} did not stop in 30 s"


@pytest.fixture(scope="session")
def ui_server(ui_store: UiStore) -> Iterator[UiServer]:
    server = UiServer(ui_store.path)
    yield server
    server.stop()


@dataclass
class UiPage:
    """A browser page on one server, with every console error and page error it met."""

    page: Any
    base: str
    errors: list[str] = field(default_factory=list)

    def goto(self, path: str) -> None:
        self.page.goto(self.base + path)

    def shot(self, name: str) -> Path:
        """Screenshot into test-outputs/ui/NAME.png (and docs/images/ui-NAME.png for the
        README's three when FLOWKIT_UPDATE_SCREENSHOTS=1)."""
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        if name in README_SHOTS and os.environ.get("FLOWKIT_UPDATE_SCREENSHOTS") == "1":
            shutil.copyfile(path, ROOT / "docs" / "images" / f"ui-{name}.png")
        return path


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.stash[_FAILED] = report.failed
    return report


_FAILED = pytest.StashKey[bool]()


def open_page(browser: Any, base: str, node: pytest.Item | None = None) -> Iterator[UiPage]:
    """A page in a context of its own; when ``node``'s test failed, a screenshot of where it
    stood goes to test-outputs/ui/failed-NAME.png."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    ui = UiPage(page, base)

    def console(message: Any) -> None:
        if message.type == "error":
            ui.errors.append(f"console: {message.text} ({message.location.get('url')})")

    page.on("console", console)
    page.on("pageerror", lambda exc: ui.errors.append(f"page error: {exc}"))
    yield ui
    if node is not None:
        failed = "failed-" + "".join(c if c.isalnum() else "-" for c in node.name)
        if node.stash.get(_FAILED, False):
            ui.shot(failed)
        else:  # a failure's screenshot of an earlier run is not left to mislead
            (SHOTS / f"{failed}.png").unlink(missing_ok=True)
    context.close()
    assert ui.errors == [], f"the page logged errors: {ui.errors}"


@pytest.fixture
def ui(request: pytest.FixtureRequest, browser: Any, ui_server: UiServer) -> Iterator[UiPage]:
    """A fresh page on the ``ui_store`` server; its test fails on any JS error."""
    yield from open_page(browser, ui_server.url, request.node)


def task_id(store: Path, flow: str, run_id: str, step: str, index: int | None = None) -> str:
    """The id of ``step``'s task (the one at foreach ``index``), read through the client."""
    run = Run(f"{flow}/{run_id}", store=str(store), _namespace_check=False)
    tasks = list(run[step])
    if index is not None:
        tasks = [t for t in tasks if t.index == index]
    assert len(tasks) == 1, f"{flow}/{run_id}/{step}: {len(tasks)} tasks"
    return tasks[0].id


@pytest.fixture
def live_ui(
    request: pytest.FixtureRequest, browser: Any, live_run: LiveRun
) -> Iterator[tuple[UiPage, LiveRun]]:
    server = UiServer(live_run.store)
    try:
        for page in open_page(browser, server.url, request.node):
            yield page, live_run
    finally:
        server.stop()
