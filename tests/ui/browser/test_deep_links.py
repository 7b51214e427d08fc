"""Every page's URL opens the page directly, and again on a reload (deep links)."""

from __future__ import annotations

import pytest

from tests.ui.browser.conftest import UiPage, expect, task_id
from tests.ui.conftest import UiStore

pytestmark = pytest.mark.slow


def page_urls(s: UiStore) -> dict[str, tuple[str, str]]:
    """Each page: its URL and an element it must show (the hooks of docs/ui.md)."""
    show = f"/UiShowcaseFlow/{s.showcase}"
    train = task_id(s.path, "UiShowcaseFlow", s.showcase, "train", index=2)
    join = task_id(s.path, "UiShowcaseFlow", s.showcase, "join")
    return {
        "runs": ("/?flow=UiShowcaseFlow", f'tr[data-run="UiShowcaseFlow/{s.wider}"]'),
        "flow": ("/UiShowcaseFlow", f'tr[data-run="UiShowcaseFlow/{s.showcase}"]'),
        "run": (show, "[data-testid=dag] g.dag-step[data-step=train]"),
        "timeline": (f"{show}?view=timeline", "[data-testid=timeline] rect.bar"),
        "step": (f"{show}/train", f'[data-testid=tasks-table] tr[data-task="{train}"]'),
        "task": (f"{show}/train/{train}", "[data-testid=logs] .log-line"),
        "artifact": (f"{show}/join/{join}/table", "[data-testid=artifact-preview] table"),
        "deadletters": ("/-/deadletters", "[data-testid=deadletters] tr[data-letter]"),
        "compare": (
            f"/-/compare?a=UiShowcaseFlow/{s.showcase}&b=UiShowcaseFlow/{s.wider}",
            "[data-testid=compare-parameters] tr.differs",
        ),
    }


@pytest.mark.parametrize(
    "name",
    ["runs", "flow", "run", "timeline", "step", "task", "artifact", "deadletters", "compare"],
)
def test_page_opens_from_its_url_and_on_reload(name: str, ui: UiPage, ui_store: UiStore) -> None:
    url, hook = page_urls(ui_store)[name]
    ui.goto(url)
    expect(ui.page.locator(hook).first).to_be_visible()
    ui.page.reload()
    expect(ui.page.locator(hook).first).to_be_visible()
    assert ui.page.url == ui.base + url
