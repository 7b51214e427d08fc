"""A running run in a browser: its pages follow it without a reload, to its end."""

from __future__ import annotations

import pytest

from tests.ui.browser.conftest import LiveRun, UiPage, expect

pytestmark = pytest.mark.slow


def test_live_run_page_follows_the_run(live_ui: tuple[UiPage, LiveRun]) -> None:
    ui, live = live_ui
    run = f"/UiLiveFlow/{live.run_id}"
    ui.goto(run)
    status = ui.page.locator("[data-testid=run-status]")
    expect(status).to_contain_text("running")
    # a reload would drop this mark: the page must update itself
    ui.page.evaluate("() => { window.flowkitTestMark = 'kept'; }")

    expect(ui.page.locator("g.dag-step[data-step=wait]")).to_have_count(1)
    ui.page.locator("[data-testid=dag] g.dag-step[data-step=wait]").click()
    expect(ui.page).to_have_url(ui.base + f"{run}/wait")
    task = ui.page.locator("[data-testid=tasks-table] tr[data-task] a[href^='/']").first
    task.click()
    lines = ui.page.locator("[data-testid=logs] .log-line")
    expect(lines.filter(has_text="still waiting, beat").first).to_be_visible()
    seen = lines.count()
    ui.page.wait_for_function(
        "n => document.querySelectorAll('[data-testid=logs] .log-line').length > n + 3", arg=seen
    )

    ui.page.go_back()
    expect(ui.page.locator("[data-testid=tasks-table]")).to_be_visible()
    ui.page.go_back()
    expect(ui.page).to_have_url(ui.base + run)
    expect(status).to_contain_text("running")
    live.open_gate()
    expect(status).to_contain_text("succeeded", timeout=60_000)
    expect(ui.page.locator("g.dag-step[data-step=end]")).to_have_attribute("data-phase", "done")
    assert ui.page.evaluate("() => window.flowkitTestMark") == "kept"
    live.thread.join(timeout=60)
    assert [type(o).__name__ for o in live.outcome] == ["Run"], live.outcome
