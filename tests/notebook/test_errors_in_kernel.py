"""A failed run in a real kernel shows once: the failing task, its traceback through the
user's cells (each cell line once), and the resume call, with no frame of flowkit's; the
widget says it in one line pointing below. Explanations and rich displays speak Python."""

from __future__ import annotations

import re
from html import escape
from pathlib import Path
from typing import Any

import pytest

from tests.browser import chromium
from tests.conftest import ROOT
from tests.notebook.kernel import execute, text, widget_html

pytestmark = [pytest.mark.kernel, pytest.mark.slow]

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
HELPER = "def helper(x):\n    return 1 / x"
FLOW = (
    "class BoomFlow(FlowSpec):\n"
    "    @step\n    def start(self):\n        self.v = helper(0)\n        self.next(self.end)\n\n"
    "    @step\n    def end(self):\n        self.done = 'end v1'\n"
)


def _errors(nb: Any, index: int) -> list[dict[str, Any]]:
    """The error outputs of the user's cell ``index``."""
    outputs = nb.cells[index + 1].get("outputs", [])
    return [o for o in outputs if o["output_type"] == "error"]


def _plain(lines: list[str]) -> str:
    return _ANSI.sub("", "\n".join(lines))


@pytest.fixture(scope="module")
def notebook(tmp_path_factory: pytest.TempPathFactory) -> Any:
    store = str(tmp_path_factory.mktemp("errors") / "store")
    return execute(
        [
            f"import flowkit\nfrom flowkit import Flow, FlowSpec, step\nSTORE = {store!r}",
            HELPER,
            FLOW,
            "flowkit.run(BoomFlow, store=STORE)",
            "def helper(x):\n    return x + 1\n\n"
            "fixed = flowkit.resume(BoomFlow, store=STORE)\nprint('FIXED', fixed.successful)",
            FLOW.replace("'end v1'", "'end v2'"),
            "again = flowkit.resume(BoomFlow, store=STORE)\n"
            "print('WHY', [d['reason'] for d in again.explanation if d['step'] == 'end'])",
            "flowkit.check(BoomFlow)",
            "Flow('BoomFlow', store=STORE)",
            "def helper(x):\n    return 1 / x\n\ntry:\n    flowkit.run(BoomFlow, store=STORE)\n"
            "except flowkit.RunFailed as exc:\n    caught = exc\nprint('CAUGHT', caught.task)",
            "exc = caught\nexc.run['start'][caught.task.split('/')[-1]]",
        ],
        widgets=True,
        allow_errors=True,
        timeout=180,
    )


def test_a_failed_run_shows_once_with_the_users_cells_and_the_resume_call(notebook: Any) -> None:
    (error,) = _errors(notebook, 3)
    shown = _plain(error["traceback"])
    assert error["ename"] == "RunFailed"
    assert shown.startswith("RunFailed: run BoomFlow/")
    assert "task BoomFlow/" in shown and "/start/" in shown
    # the user's cells, each line once; flowkit's own frames (run -> start -> drive) never
    assert shown.count("self.v = helper(0)") == 1
    assert shown.count("return 1 / x") == 1
    assert 'File "Cell In[4]", line 4, in start' in shown
    assert "flowkit/" not in shown and "drive(" not in shown
    assert shown.count("ZeroDivisionError: division by zero") == 2  # the header names it
    assert re.search(
        r'hint: fix the cause, then resume: flowkit\.resume\(BoomFlow, origin_run_id="\w+"\)',
        shown,
    )
    assert "resume --origin-run-id" not in shown
    # nothing else in the cell repeats it: no printed traceback beside the error display
    assert "Traceback" not in text(notebook, 3)


def test_the_widget_says_the_failure_in_one_line_pointing_below(notebook: Any) -> None:
    failed = [h for h in widget_html(notebook) if "flowkit-failure" in h]
    assert len(failed) == 2  # cell 3's, and the run whose RunFailed a later cell caught
    for html in failed:
        section = html.split('<div class="flowkit-failure">')[1].split("</div>")[0]
        assert "/start/" in section
        assert "failed: <code>ZeroDivisionError: division by zero</code>" in section
        assert "the traceback and how to resume are below" in section
        assert "Traceback" not in section and "<pre>" not in section
        # nor does the log tail repeat the traceback the task echoed: it is said below, once
        assert "Traceback" not in html and "helper(0)" not in html


def test_a_caught_failure_still_says_where_its_traceback_is(notebook: Any) -> None:
    """A cell that catches RunFailed shows no error display: the widget's line names the
    task and the call that shows its traceback, and that call does."""
    assert _errors(notebook, 9) == []
    step, task_id = text(notebook, 9).split("CAUGHT ")[1].strip().split("/")[-2:]
    said = f"<code>{escape(f'exc.run[{step!r}][{task_id!r}]')}</code> and <code>exc.hint</code>"
    assert any(said in html for html in widget_html(notebook))
    shown = text(notebook, 10)
    assert "flowkit-exception" in shown and "ZeroDivisionError: division by zero" in shown
    assert "return 1 / x" in shown


def test_explanations_in_a_notebook_name_the_python_call(notebook: Any) -> None:
    assert "FIXED True" in text(notebook, 4)
    why = text(notebook, 6)
    assert "cloned although" in why
    assert "(flowkit.resume(BoomFlow, reuse=True) runs it again)" in why
    assert "resume --reuse" not in why


def test_check_and_flow_display_richly(notebook: Any) -> None:
    checked = text(notebook, 7)
    assert "<b>BoomFlow</b> &middot; 2 steps &middot; no problems found" in checked
    assert 'class="flowkit-dag"' in checked and 'data-step="start"' in checked
    runs = text(notebook, 8)
    assert "<b>Flow BoomFlow</b> &middot; recent runs" in runs
    assert runs.count("<tr>") == 4  # the header, the failed run and its two resumes
    assert runs.count(">failed</span>") == 1 and runs.count(">succeeded</span>") == 2


def test_a_screenshot_of_the_failed_cell(notebook: Any) -> None:
    """What a person sees under the failing cell: the widget, then the one error block."""
    cell = notebook.cells[4]
    widget = next(h for h in widget_html(notebook) if "flowkit-failure" in h)
    (error,) = _errors(notebook, 3)
    block = escape(_plain(error["traceback"]))
    page = (
        "<html><body style='font-family:sans-serif;font-size:13px;max-width:960px'>"
        f"<pre style='background:#f5f5f5;padding:6px'>[4]: {escape(cell.source)}</pre>"
        f"{widget}<pre style='background:#fdd;padding:6px;white-space:pre-wrap'>{block}</pre>"
        "</body></html>"
    )
    out = ROOT / "test-outputs" / "notebook"
    out.mkdir(parents=True, exist_ok=True)
    (out / "failed-run.html").write_text(page)
    target = out / "failed-run.png"
    with chromium() as browser:
        tab = browser.new_page(viewport={"width": 1000, "height": 700})
        tab.set_content(page)
        tab.screenshot(path=str(target), full_page=True)
        assert tab.locator(".flowkit-failure").count() == 1
    assert Path(target).stat().st_size > 10_000
