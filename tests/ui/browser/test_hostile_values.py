"""The front end against values that attack it: markup, terminal escape codes and unbroken
500-character words from the store, on a 900 px window; and no polling from a hidden tab."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import flowkit
from tests.flows.ui_hostile import MARKUP, HostileFlow
from tests.runtime.test_shapes import Quiet
from tests.ui.browser.conftest import UiPage, UiServer, expect, open_page, task_id
from tests.ui.conftest import LiveRun, UiStore

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[UiServer, str, str, str]]:
    store = tmp_path_factory.mktemp("hostile") / "store"
    with pytest.raises(flowkit.RunFailed) as failed:
        flowkit.run(HostileFlow, store=str(store), progress=Quiet())
    run_id = failed.value.run.id
    server = UiServer(store)
    yield (
        server,
        run_id,
        task_id(store, "HostileFlow", run_id, "start"),
        task_id(store, "HostileFlow", run_id, "boom"),
    )
    server.stop()


@pytest.fixture
def narrow(browser: Any, hostile: tuple[UiServer, str, str, str]) -> Iterator[UiPage]:
    pages = open_page(browser, hostile[0].url)
    ui = next(pages)

    def dialog(d: Any) -> None:  # an alert() is markup run as script: the test fails on it
        ui.errors.append(f"dialog: {d.message}")
        d.dismiss()

    ui.page.set_viewport_size({"width": 900, "height": 800})
    ui.page.on("dialog", dialog)
    yield ui
    next(pages, None)  # closes the page; fails on any error it logged


def wider_than_window(ui: UiPage) -> int:
    return int(ui.page.evaluate("document.documentElement.scrollWidth - innerWidth"))


def test_logs_show_text_without_escape_codes(
    narrow: UiPage, hostile: tuple[UiServer, str, str, str]
) -> None:
    _, run_id, task, _ = hostile
    narrow.goto(f"/HostileFlow/{run_id}/start/{task}")
    text = narrow.page.locator("[data-testid=logs] .log-text").first
    expect(text).to_have_text("red alert " + MARKUP)
    assert narrow.page.locator("[data-testid=logs] img").count() == 0


@pytest.mark.parametrize("page", ["run", "task", "deadletters"])
def test_a_long_exception_stays_inside_a_900px_window(
    narrow: UiPage, hostile: tuple[UiServer, str, str, str], page: str
) -> None:
    _, run_id, _, failed = hostile
    path = {
        "run": f"/HostileFlow/{run_id}",
        "task": f"/HostileFlow/{run_id}/boom/{failed}",
        "deadletters": "/-/deadletters",
    }[page]
    narrow.goto(path)
    expect(narrow.page.locator(".exc-msg").first).to_contain_text(MARKUP)
    assert wider_than_window(narrow) == 0


def test_a_hidden_tab_does_not_poll(live_ui: tuple[UiPage, LiveRun]) -> None:
    ui, live = live_ui
    asked: list[str] = []

    def request(r: Any) -> None:
        if "/api/" in r.url:
            asked.append(r.url)

    ui.page.on("request", request)
    ui.goto(f"/UiLiveFlow/{live.run_id}")
    expect(ui.page.locator("[data-testid=run-status]")).to_contain_text("running")
    ui.page.wait_for_timeout(2500)
    assert asked, "a live run's page polls while shown"
    set_visibility = """v => { Object.defineProperty(document, 'visibilityState',
        {get: () => v, configurable: true}); document.dispatchEvent(new Event('visibilitychange')); }"""
    ui.page.evaluate(set_visibility, "hidden")
    ui.page.wait_for_timeout(1500)  # a request already on its way may land
    asked.clear()
    ui.page.wait_for_timeout(3000)
    assert asked == []
    ui.page.evaluate(set_visibility, "visible")
    ui.page.wait_for_timeout(1500)
    assert asked, "polling goes on once the tab is shown again"


def test_a_failed_poll_shows_its_error_until_the_next_answer(
    live_ui: tuple[UiPage, LiveRun],
) -> None:
    ui, live = live_ui
    run_api = f"**/api/runs/UiLiveFlow/{live.run_id}"
    ui.goto(f"/UiLiveFlow/{live.run_id}")
    expect(ui.page.locator("[data-testid=run-status]")).to_contain_text("running")
    # one answer over and over, one error among them: only the error can make the page redraw
    same = ui.page.request.get(f"{ui.base}/api/runs/UiLiveFlow/{live.run_id}").json()
    answers = iter([200, 200, 503])

    def serve(route: Any) -> None:
        if next(answers, 200) == 503:
            route.fulfill(status=503, json={"error": "the store is away", "hint": "wait"})
        else:
            route.fulfill(status=200, json=same)

    ui.page.route(run_api, serve)
    box = ui.page.locator(".error-box")
    expect(box).to_contain_text("the store is away")
    expect(box).to_have_count(0)
    # the 503 was the test's own doing, not the page's
    ui.errors[:] = [e for e in ui.errors if "503" not in e]


def test_a_table_preview_leads_each_row_with_its_index_label(ui: UiPage, ui_store: UiStore) -> None:
    join = task_id(ui_store.path, "UiShowcaseFlow", ui_store.showcase, "join")
    ui.goto(f"/UiShowcaseFlow/{ui_store.showcase}/join/{join}/table")
    rows = ui.page.locator("[data-testid=artifact-preview] tbody tr")
    expect(rows).to_have_count(4)
    assert rows.nth(2).locator("th.index").text_content() == "2"
    assert rows.nth(2).locator("td").all_text_contents() == ["2", "0.75", "baseline"]
