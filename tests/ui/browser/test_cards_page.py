"""A task's @card reports from its page: linked, and opened sandboxed (a card's scripts run in
an origin of their own, so they cannot read the UI's cookie or call its API)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import flowkit
from tests.metaflow_compat.flows.cards_report import CardFlow
from tests.runtime.test_shapes import Quiet
from tests.ui.browser.conftest import UiPage, UiServer, expect, open_page, task_id

pytestmark = pytest.mark.slow


@pytest.fixture
def cards_ui(
    request: pytest.FixtureRequest, browser: Any, tmp_path: Path
) -> Iterator[tuple[UiPage, str]]:
    """A page on a server over a store holding one CardFlow run; the start task's page path."""
    store = tmp_path / "store"
    run = flowkit.run(CardFlow, store=str(store), progress=Quiet())
    start = task_id(store, "CardFlow", run.id, "start")
    server = UiServer(store)
    try:
        for page in open_page(browser, server.url, request.node):
            yield page, f"/CardFlow/{run.id}/start/{start}"
    finally:
        server.stop()


def test_a_card_opens_from_its_task_page_in_its_own_origin(
    cards_ui: tuple[UiPage, str],
) -> None:
    ui, task_page = cards_ui
    ui.goto(task_page)
    card = ui.page.locator("[data-testid=task-cards] a")
    expect(card).to_have_text("default")
    with ui.page.context.expect_page() as opened:
        card.click()
    page = opened.value
    page.wait_for_load_state()
    assert "Scores for" in page.locator("body").inner_text()
    # a sandboxed document has an opaque origin: no cookie or API of the UI's is its own
    assert page.evaluate("() => self.origin") == "null"
    page.close()
