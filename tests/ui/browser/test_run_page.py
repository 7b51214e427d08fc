"""A run's page in a browser: the DAG's boxes, the failures panel, the timeline view."""

from __future__ import annotations

import re

import pytest

from tests.ui.browser.conftest import RED_FILL, UiPage, expect, task_id
from tests.ui.conftest import UiStore

pytestmark = pytest.mark.slow


def test_dag_counts_a_foreach_step(ui: UiPage, ui_store: UiStore) -> None:
    ui.goto(f"/UiShowcaseFlow/{ui_store.showcase}")
    expect(ui.page.locator("[data-testid=run-status]")).to_contain_text("succeeded")
    train = ui.page.locator("[data-testid=dag] g.dag-step[data-step=train]")
    expect(train.locator("text.caption")).to_contain_text("4/4")
    for step in ("start", "join", "end"):
        expect(ui.page.locator(f"g.dag-step[data-step={step}]")).to_have_count(1)
    ui.shot("run")


def test_failed_step_is_red_and_the_failures_panel_links_to_its_task(
    ui: UiPage, ui_store: UiStore
) -> None:
    ui.goto(f"/FixableFlow/{ui_store.failed}")
    work = ui.page.locator("[data-testid=dag] g.dag-step[data-step=work]")
    expect(work).to_have_count(1)
    fill = work.locator("rect").first.evaluate("r => getComputedStyle(r).fill")
    assert fill == RED_FILL
    start = ui.page.locator("[data-testid=dag] g.dag-step[data-step=start] rect").first
    assert start.evaluate("r => getComputedStyle(r).fill") != RED_FILL
    task = task_id(ui_store.path, "FixableFlow", ui_store.failed, "work")
    url = f"/FixableFlow/{ui_store.failed}/work/{task}"
    link = ui.page.locator(f'[data-testid=failures] a[href="{url}"]').first
    expect(link).to_be_visible()
    expect(ui.page.locator("[data-testid=failures]")).to_contain_text("the bug is still there")
    link.click()
    expect(ui.page).to_have_url(ui.base + url)
    expect(ui.page.locator("[data-testid=task-header]")).to_be_visible()


def test_timeline_draws_a_bar_per_task_and_the_failed_attempts_red(
    ui: UiPage, ui_store: UiStore
) -> None:
    ui.goto(f"/UiShowcaseFlow/{ui_store.showcase}")
    ui.page.locator("a[data-testid=tab-timeline]").click()
    expect(ui.page).to_have_url(re.compile(r"[?&]view=timeline"))
    bars = "[data-testid=timeline] rect.bar"
    expect(ui.page.locator(f"{bars}[data-step=train]")).to_have_count(4)
    for step in ("start", "join", "end"):
        expect(ui.page.locator(f"{bars}[data-step={step}]")).to_have_count(1)
    ui.shot("timeline")

    ui.goto(f"/FixableFlow/{ui_store.failed}?view=timeline")
    work = ui.page.locator("[data-testid=timeline] rect.bar[data-step=work]")
    expect(work).to_have_count(2)
    assert work.evaluate_all("bars => bars.map(b => b.dataset.status)") == ["failed", "failed"]
    fills = work.evaluate_all("bars => bars.map(b => getComputedStyle(b).fill)")
    assert fills == [RED_FILL, RED_FILL]
