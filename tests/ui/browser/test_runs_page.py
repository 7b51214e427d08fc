"""The runs list in a browser: newest first, statuses coloured, filters kept in the URL."""

from __future__ import annotations

import re

import pytest

from tests.ui.browser.conftest import GREEN_FILL, RED_FILL, RED_TEXT, UiPage, colours, expect
from tests.ui.conftest import UiStore

pytestmark = pytest.mark.slow

ROWS = "[data-testid=runs-table] tr[data-run]"


def shown_runs(ui: UiPage) -> list[str]:
    runs: list[str] = ui.page.locator(ROWS).evaluate_all("rows => rows.map(r => r.dataset.run)")
    return runs


def test_runs_newest_first_with_statuses(ui: UiPage, ui_store: UiStore) -> None:
    ui.goto("/")
    newest_first = [
        f"FixableFlow/{ui_store.resumed}",
        f"FixableFlow/{ui_store.failed}",
        f"UiShowcaseFlow/{ui_store.wider}",
        f"UiShowcaseFlow/{ui_store.showcase}",
    ]
    expect(ui.page.locator(ROWS)).to_have_count(4)
    assert shown_runs(ui) == newest_first
    failed = ui.page.locator(f'tr[data-run="FixableFlow/{ui_store.failed}"] td.status')
    expect(failed).to_have_text(re.compile("failed"))
    assert {RED_FILL, RED_TEXT} <= colours(failed), "the failed run's badge is not red"
    succeeded = ui.page.locator(f'tr[data-run="FixableFlow/{ui_store.resumed}"] td.status')
    expect(succeeded).to_have_text(re.compile("succeeded"))
    assert GREEN_FILL in colours(succeeded), "the succeeded run's badge is not green"
    assert not colours(succeeded) & {RED_FILL, RED_TEXT}
    expect(ui.page.locator("[data-testid=runs-total]")).to_contain_text("4")
    ui.shot("runs")


def test_status_filter_updates_the_url_and_survives_a_reload(ui: UiPage, ui_store: UiStore) -> None:
    ui.goto("/")
    expect(ui.page.locator(ROWS)).to_have_count(4)
    ui.page.select_option("select[name=status]", "failed")
    expect(ui.page).to_have_url(re.compile(r"[?&]status=failed"))
    expect(ui.page.locator(ROWS)).to_have_count(1)
    assert shown_runs(ui) == [f"FixableFlow/{ui_store.failed}"]
    ui.page.reload()
    expect(ui.page.locator(ROWS)).to_have_count(1)
    assert shown_runs(ui) == [f"FixableFlow/{ui_store.failed}"]
    expect(ui.page.locator("select[name=status]")).to_have_value("failed")


def test_clicking_a_run_opens_its_page(ui: UiPage, ui_store: UiStore) -> None:
    ui.goto("/")
    url = f"/FixableFlow/{ui_store.failed}"
    ui.page.locator(f'tr[data-run="FixableFlow/{ui_store.failed}"] a[href="{url}"]').first.click()
    expect(ui.page).to_have_url(ui.base + url)
    expect(ui.page.locator("[data-testid=run-status]")).to_contain_text("failed")
