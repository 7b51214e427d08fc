"""The ``flowkit`` console script: flows by path, and clear errors for bad files."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from flowkit.cli.main import cli
from tests.conftest import FLOWS


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), prog_name="flowkit")


def test_check_and_show_a_flow_by_path() -> None:
    result = invoke("check", str(FLOWS / "all_shapes.py"))
    assert (result.exit_code, result.output) == (0, "AllShapesFlow: 13 steps, no problems found.\n")
    shown = invoke("show", str(FLOWS / "all_shapes.py"), "--json")
    assert json.loads(shown.output)["flow"] == "AllShapesFlow"


def test_check_reports_lint_problems() -> None:
    result = invoke("check", str(FLOWS / "bad" / "cycle.py"))
    assert result.exit_code == 1
    assert "CycleFlow has 2 problems; nothing was run." in result.output
    assert (
        f"{FLOWS / 'bad' / 'cycle.py'}:15: step 'b': 'b' goes back to 'a', making a cycle"
        in result.output
    )


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("class Broken(:\n", "1: invalid syntax"),
        ("x = 1 / 0\n", "ZeroDivisionError: division by zero"),
        ("x = 1\n", "defines no flow"),
        (
            "from flowkit import FlowSpec\nclass A(FlowSpec):\n    pass\nclass B(FlowSpec):\n    pass\n",
            "defines several flows: A, B",
        ),
    ],
    ids=["syntax", "raises", "empty", "several"],
)
def test_bad_flow_files_get_one_clear_message(tmp_path: Path, source: str, message: str) -> None:
    path = tmp_path / "flow_file.py"
    path.write_text(source)
    result = invoke("check", str(path))
    assert result.exit_code == 1
    assert result.output.startswith("error: ")
    assert message in result.output
    assert "hint: " in result.output
    assert "Traceback" not in result.output


def test_user_frames_are_shown_for_an_import_error(tmp_path: Path) -> None:
    path = tmp_path / "flow_file.py"
    path.write_text("def f():\n    return {}['k']\n\nf()\n")
    result = invoke("check", str(path))
    assert f'File "{path}", line 4' in result.output and f'File "{path}", line 2' in result.output
    assert "flowkit/authoring/loader.py" not in result.output


def test_flow_option_picks_one_of_several(tmp_path: Path) -> None:
    path = tmp_path / "two.py"
    body = "    @step\n    def start(self):\n        self.next(self.end)\n\n    @step\n    def end(self):\n        pass\n"
    path.write_text(
        f"from flowkit import FlowSpec, step\n\nclass A(FlowSpec):\n{body}\nclass B(FlowSpec):\n{body}"
    )
    assert invoke("check", str(path), "--flow", "B").output == "B: 2 steps, no problems found.\n"
    missing = invoke("check", str(path), "--flow", "C")
    assert missing.exit_code == 1 and "defines no flow called 'C'" in missing.output
    assert "flows in this file: A, B" in missing.output


def test_missing_file() -> None:
    result = invoke("check", "/nonexistent/flow.py")
    assert result.exit_code == 1 and "no flow file at /nonexistent/flow.py" in result.output


def test_installed_console_script() -> None:
    exe = shutil.which("flowkit", path=str(Path(sys.executable).parent)) or shutil.which("flowkit")
    assert exe, "the flowkit console script is not installed"
    result = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.startswith("flowkit 0.2.0")
    helped = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=60)
    assert "check" in helped.stdout and "show" in helped.stdout
