"""Step and task pages in a browser: clicking through to a task, its logs (search too), its
attempts and error, and its artifacts' previews."""

from __future__ import annotations

import re
import time
from urllib.parse import urlsplit

import pytest

from tests.ui.browser.conftest import WAIT_MS, UiPage, expect, task_id
from tests.ui.conftest import UiStore

pytestmark = pytest.mark.slow


def test_click_through_step_and_task_to_timestamped_logs(ui: UiPage, ui_store: UiStore) -> None:
    run = f"/UiShowcaseFlow/{ui_store.showcase}"
    ui.goto(run)
    ui.page.locator("[data-testid=dag] g.dag-step[data-step=train]").click()
    expect(ui.page).to_have_url(ui.base + f"{run}/train")
    task = task_id(ui_store.path, "UiShowcaseFlow", ui_store.showcase, "train", index=2)
    rows = ui.page.locator("[data-testid=tasks-table] tr[data-task]")
    expect(rows).to_have_count(4)
    ui.page.locator(f"tr[data-task=\"{task}\"] a[href='{run}/train/{task}']").first.click()
    expect(ui.page).to_have_url(ui.base + f"{run}/train/{task}")

    lines = ui.page.locator("[data-testid=logs] .log-line")
    line = lines.filter(has_text="item 2: score 0.75")
    expect(line).to_have_count(1)
    expect(line.locator(".log-text")).to_have_text("item 2: score 0.75")
    expect(line.locator(".log-time")).to_have_text(re.compile(r"\d\d:\d\d:\d\d"))
    expect(line.locator(".log-stream")).to_contain_text("stdout")
    expect(lines.filter(has_text="item 2: done")).to_have_count(1)
    ui.shot("task")

    ui.page.fill("input[name=log-search]", "score")
    expect(lines.filter(has_text="item 2: done")).to_have_count(0)
    expect(lines).to_have_count(1)
    expect(lines.locator(".log-text")).to_have_text("item 2: score 0.75")


def test_attempt_selector_switches_attempts_and_the_error_comes_first(
    ui: UiPage, ui_store: UiStore
) -> None:
    task = task_id(ui_store.path, "FixableFlow", ui_store.failed, "work")
    url = f"/FixableFlow/{ui_store.failed}/work/{task}"
    ui.goto(url)
    error = ui.page.locator("[data-testid=task-error]")
    expect(error).to_contain_text("RuntimeError")
    expect(error).to_contain_text("the bug is still there")
    expect(error).to_contain_text("Traceback")
    logs = ui.page.locator("[data-testid=logs]")
    expect(logs).to_have_count(1)
    # the error is drawn above the logs: a reader sees what failed first
    assert error.evaluate(
        "(e, logs) => !!(e.compareDocumentPosition(logs) & Node.DOCUMENT_POSITION_FOLLOWING)",
        logs.element_handle(),
    )
    select = ui.page.locator("select[name=attempt]")
    expect(select.locator("option")).to_have_count(2)
    options = select.locator("option").evaluate_all("os => os.map(o => o.value)")
    assert sorted(options) == ["0", "1"]
    expect(select).to_have_value("1")
    select.select_option("0")
    expect(ui.page).to_have_url(ui.base + f"{url}?attempt=0")
    expect(select).to_have_value("0")
    expect(error).to_contain_text("the bug is still there")
    ui.page.reload()
    expect(ui.page.locator("select[name=attempt]")).to_have_value("0")


def test_table_artifact_preview_and_snippet(ui: UiPage, ui_store: UiStore) -> None:
    join = task_id(ui_store.path, "UiShowcaseFlow", ui_store.showcase, "join")
    task = f"/UiShowcaseFlow/{ui_store.showcase}/join/{join}"
    ui.goto(task)
    artifacts = ui.page.locator("[data-testid=artifacts] tr[data-artifact]")
    expect(artifacts.first).to_be_visible()
    names = artifacts.evaluate_all("rows => rows.map(r => r.dataset.artifact)")
    assert {"table", "chart", "matrix", "note", "scores"} <= set(names)
    ui.page.locator(f"tr[data-artifact=table] a[href='{task}/table']").first.click()
    expect(ui.page).to_have_url(ui.base + f"{task}/table")
    rows = ui.page.locator("[data-testid=artifact-preview] table tbody tr")
    expect(rows).to_have_count(4)
    expect(rows.nth(2)).to_contain_text("0.75")
    snippet = f"Flow('UiShowcaseFlow')['{ui_store.showcase}']['join'].task.data.table"
    expect(ui.page.locator("[data-testid=artifact-snippet]")).to_have_text(snippet)
    expect(ui.page.locator("[data-testid=copy-snippet]")).to_be_visible()
    ui.shot("artifact-table")


def test_image_artifact_loads(ui: UiPage, ui_store: UiStore) -> None:
    join = task_id(ui_store.path, "UiShowcaseFlow", ui_store.showcase, "join")
    ui.goto(f"/UiShowcaseFlow/{ui_store.showcase}/join/{join}/chart")
    image = ui.page.locator("[data-testid=artifact-preview] img")
    expect(image).to_be_visible()
    ui.page.wait_for_function(
        "() => { const i = document.querySelector('[data-testid=artifact-preview] img');"
        " return i && i.complete && i.naturalWidth > 0; }"
    )
    assert image.evaluate("i => [i.naturalWidth, i.naturalHeight]") == [48, 24]


def test_back_twice_quickly_shows_only_the_page_arrived_at(ui: UiPage, ui_store: UiStore) -> None:
    """A page left before its data came must not draw into the next one."""
    run = f"/UiShowcaseFlow/{ui_store.showcase}"
    task = task_id(ui_store.path, "UiShowcaseFlow", ui_store.showcase, "train", index=2)
    ui.goto(run)
    expect(ui.page.locator("[data-testid=dag]")).to_be_visible()
    ui.page.locator("[data-testid=dag] g.dag-step[data-step=train]").click()
    ui.page.locator(f'tr[data-task="{task}"] a[href="{run}/train/{task}"]').first.click()
    expect(ui.page.locator("[data-testid=logs] .log-line").first).to_be_visible()
    step_api = f"/api/runs{run}/train"
    asked, answered = [], []
    ui.page.on("request", lambda r: asked.append(r) if urlsplit(r.url).path == step_api else 0)
    ui.page.on("requestfinished", lambda r: answered.append(r))
    ui.page.on("requestfailed", lambda r: answered.append(r))
    ui.page.go_back()
    ui.page.go_back()
    expect(ui.page).to_have_url(ui.base + run)
    expect(ui.page.locator("[data-testid=dag]")).to_be_visible()
    # the step page's answer came (however slow a loaded machine made it), and what it
    # would draw, it has drawn
    deadline = time.monotonic() + WAIT_MS / 1000
    while not all(r in answered for r in asked):
        assert time.monotonic() < deadline, "the step page's API answer never came"
        ui.page.wait_for_timeout(100)
    ui.page.wait_for_timeout(500)
    expect(ui.page.locator("[data-testid=tasks-table]")).to_have_count(0)
    expect(ui.page.locator("[data-testid=run-header]")).to_have_count(1)
