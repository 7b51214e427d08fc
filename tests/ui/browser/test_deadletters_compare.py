"""The dead letters page and the comparison of two runs, in a browser."""

from __future__ import annotations

import re

import pytest

from tests.ui.browser.conftest import UiPage, expect, task_id
from tests.ui.conftest import UiStore

pytestmark = pytest.mark.slow

DIFFERS = re.compile(r"\bdiffers\b")


def test_dead_letter_listed_and_linked_to_its_task(ui: UiPage, ui_store: UiStore) -> None:
    ui.goto("/-/deadletters")
    task = task_id(ui_store.path, "FixableFlow", ui_store.failed, "work")
    url = f"/FixableFlow/{ui_store.failed}/work/{task}"
    letters = ui.page.locator("[data-testid=deadletters] tr[data-letter]")
    expect(letters).to_have_count(1)
    expect(letters).to_contain_text("the bug is still there")
    letters.locator(f'a[href="{url}"]').first.click()
    expect(ui.page).to_have_url(ui.base + url)
    expect(ui.page.locator("[data-testid=task-error]")).to_contain_text("the bug is still there")


def test_compare_marks_the_differing_parameter(ui: UiPage, ui_store: UiStore) -> None:
    a = f"UiShowcaseFlow/{ui_store.showcase}"
    b = f"UiShowcaseFlow/{ui_store.wider}"
    ui.goto(f"/-/compare?a={a}&b={b}")
    width = ui.page.locator("[data-testid=compare-parameters] tr").filter(has_text="width")
    expect(width).to_have_count(1)
    expect(width).to_have_class(DIFFERS)
    cells = width.locator("td").all_inner_texts()
    assert "4" in cells and "6" in cells, cells
    train = ui.page.locator("[data-testid=compare-steps] tr").filter(has_text="train")
    expect(train.first).to_be_visible()
    table = ui.page.locator("[data-testid=compare-artifacts] tr").filter(has_text="table")
    expect(table.first).to_have_class(DIFFERS)
