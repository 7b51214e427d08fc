"""Each lint case in tests/flows/bad/ is reported at the line its ``# expect:`` marker is on,
naming the right step, through the API and through ``check`` and ``run``; no tracebacks."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import flowkit
from flowkit.authoring.loader import load_flow_file
from flowkit.lint import lint
from tests.conftest import FLOWS, run_python

BAD = sorted((FLOWS / "bad").glob("*.py"))
MARKER = re.compile(r"#\s*expect:\s*(?P<step>[\w-]+)\s*\|\s*(?P<fragment>.+?)\s*$")


def expectations(path: Path) -> list[tuple[int, str | None, str]]:
    found = []
    for number, text in enumerate(path.read_text().splitlines(), start=1):
        match = MARKER.search(text)
        if match:
            step = None if match["step"] == "-" else match["step"]
            found.append((number, step, match["fragment"]))
    assert found, f"{path.name} has no '# expect:' marker"
    return found


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.stem)
def test_lint_reports_exactly_the_marked_problems(path: Path) -> None:
    problems = lint(flowkit.graph_of(load_flow_file(path)))
    got = sorted((p.line, p.step, p.message) for p in problems)
    want = expectations(path)
    assert len(got) == len(want), got
    for (line, step, message), (want_line, want_step, fragment) in zip(got, want, strict=True):
        assert (line, step) == (want_line, want_step), (message, fragment)
        assert fragment in message
    assert all(p.file == str(path) and p.hint for p in problems)


@pytest.mark.parametrize("command", ["check", "run"])
@pytest.mark.parametrize("path", BAD, ids=lambda p: p.stem)
def test_lint_through_the_command_line(path: Path, command: str) -> None:
    result = run_python(path, command)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert result.stdout == ""
    want = expectations(path)
    noun = "problem" if len(want) == 1 else "problems"
    first = result.stderr.splitlines()[0]
    assert first.endswith(f"has {len(want)} {noun}; nothing was run."), result.stderr
    for line, step, fragment in want:
        head = f"{path}:{line}: " + (f"step '{step}': " if step else "")
        matching = [row for row in result.stderr.splitlines() if row.startswith(head)]
        assert any(fragment in row for row in matching), (head, fragment, result.stderr)
    assert result.stderr.count("hint: ") == len(want)


def test_all_problems_are_reported_at_once(tmp_path: Path) -> None:
    flow = tmp_path / "many.py"
    flow.write_text(
        "from flowkit import FlowSpec, step\n\n"
        "class Many(FlowSpec):\n"
        "    @step\n    def start(self):\n        self.next(self.a, self.b)\n\n"
        "    @step\n    def a(self):\n        self.next(self.j)\n\n"
        "    @step\n    def b(self):\n        self.next(self.j)\n\n"
        "    @step\n    def j(self):\n        self.next(self.end)\n\n"
        "    @step\n    def end(self):\n        self.next(self.start)\n\n"
        "    @step\n    def stray(self):\n        self.next(self.end)\n"
    )
    with pytest.raises(flowkit.LintError) as info:
        flowkit.check(load_flow_file(flow))
    got = [(p.step, p.line) for p in info.value.problems]
    assert got == [("j", 17), ("end", 22), ("stray", 25)]
