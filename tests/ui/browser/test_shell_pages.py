"""The front end's shell in a browser: the top bar, the router's Back, runs picked for a
comparison, a flow's step history, the timeline's hover and click, the runs list following a
live run, and an API error shown as a readable box."""

from __future__ import annotations

import re

import pytest

import flowkit
from tests.flows.ui import UiShowcaseFlow
from tests.runtime.test_shapes import Quiet
from tests.ui.browser.conftest import LiveRun, UiPage, expect
from tests.ui.conftest import UiStore

pytestmark = pytest.mark.slow

ROWS = "[data-testid=runs-table] tr[data-run]"


def test_top_bar_names_the_store_and_back_keeps_the_filters(ui: UiPage, ui_store: UiStore) -> None:
    ui.goto("/?flow=UiShowcaseFlow")
    expect(ui.page.locator("header.topbar #store")).to_have_text(str(ui_store.path))
    expect(ui.page.locator(ROWS)).to_have_count(2)
    ui.page.locator(f'tr[data-run="UiShowcaseFlow/{ui_store.wider}"] a.mono').click()
    expect(ui.page).to_have_url(ui.base + f"/UiShowcaseFlow/{ui_store.wider}")
    ui.page.evaluate("() => { window.flowkitTestMark = 'kept'; }")
    ui.page.go_back()
    expect(ui.page).to_have_url(ui.base + "/?flow=UiShowcaseFlow")
    expect(ui.page.locator(ROWS)).to_have_count(2)
    expect(ui.page.locator("select[name=flow]")).to_have_value("UiShowcaseFlow")
    # the router drew the list again in the same document: no reload
    assert ui.page.evaluate("() => window.flowkitTestMark") == "kept"


def test_two_ticked_runs_open_their_comparison(ui: UiPage, ui_store: UiStore) -> None:
    ui.goto("/")
    compare = ui.page.locator("[data-testid=compare-button]")
    expect(ui.page.locator(ROWS)).to_have_count(4)
    expect(compare).to_be_disabled()
    for run in (ui_store.showcase, ui_store.wider):
        ui.page.locator(f'tr[data-run="UiShowcaseFlow/{run}"] input[name=pick]').check()
    expect(compare).to_be_enabled()
    compare.click()
    expect(ui.page).to_have_url(
        ui.base
        + f"/-/compare?a=UiShowcaseFlow/{ui_store.showcase}&b=UiShowcaseFlow/{ui_store.wider}"
    )
    differing = ui.page.locator("[data-testid=compare-parameters] tr.differs")
    expect(differing).to_have_count(2)
    assert differing.evaluate_all("rows => rows.map(r => r.dataset.name)") == ["label", "width"]
    train = ui.page.locator("[data-testid=compare-steps] tr[data-name=train]")
    expect(train).to_have_class(re.compile("differs"))
    expect(train).to_contain_text("4 tasks")
    expect(train).to_contain_text("6 tasks")


def test_flow_page_draws_each_steps_duration_over_past_runs(ui: UiPage, ui_store: UiStore) -> None:
    ui.goto("/UiShowcaseFlow")
    expect(ui.page.locator(ROWS)).to_have_count(2)
    assert ui.page.locator("select[name=flow]").count() == 0
    history = ui.page.locator("[data-testid=flow-history] svg.spark")
    expect(history).to_have_count(4)
    # one bar per run, oldest first, each opening that run
    bars = history.nth(1).locator("a")
    expect(bars).to_have_count(2)
    hrefs = bars.evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert [h.split("/")[2] for h in hrefs] == [ui_store.showcase, ui_store.wider]


def test_timeline_bar_hover_names_the_attempt_and_click_opens_the_task(
    ui: UiPage, ui_store: UiStore
) -> None:
    ui.goto(f"/FixableFlow/{ui_store.failed}?view=timeline")
    first = ui.page.locator("[data-testid=timeline] rect.bar[data-step=work]").first
    first.hover()
    tip = ui.page.locator(".timeline-tip")
    expect(tip).to_be_visible()
    expect(tip).to_contain_text(re.compile(r"work/\S+  attempt 0"))
    expect(tip).to_contain_text("failed")
    first.click()
    expect(ui.page).to_have_url(
        re.compile(rf"/FixableFlow/{ui_store.failed}/work/[0-9a-z]+\?attempt=0$")
    )
    expect(ui.page.locator("[data-testid=task-header]")).to_be_visible()


def test_unknown_run_shows_the_apis_error_and_hint(ui: UiPage) -> None:
    ui.goto("/UiShowcaseFlow/nosuchrun")
    box = ui.page.locator("[data-testid=error]")
    expect(box).to_contain_text("UiShowcaseFlow/nosuchrun")
    expect(box.locator(".error-hint")).not_to_be_empty()
    # the browser logs the API's 404 itself; nothing else may be logged
    assert all("404" in e for e in ui.errors), ui.errors
    ui.errors.clear()


def test_runs_list_follows_a_live_run_to_its_end(live_ui: tuple[UiPage, LiveRun]) -> None:
    ui, live = live_ui
    ui.goto("/")
    status = ui.page.locator(f'tr[data-run="UiLiveFlow/{live.run_id}"] td.status')
    expect(status).to_have_text("running")
    live.open_gate()
    expect(status).to_have_text("succeeded", timeout=60_000)
    # once no listed run runs, the list is asked for seldom (every 10 s, not 2 s) ...
    requests: list[str] = []
    ui.page.on("request", lambda r: requests.append(r.url))
    ui.page.wait_for_timeout(4_500)
    assert [u for u in requests if "/api/runs" in u] == []
    # ... yet a run started elsewhere meanwhile shows up without a reload
    later = flowkit.run(UiShowcaseFlow, store=str(live.store), progress=Quiet())
    expect(ui.page.locator(f'tr[data-run="UiShowcaseFlow/{later.id}"] td.status')).to_have_text(
        "succeeded", timeout=30_000
    )
