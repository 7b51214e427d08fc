"""A tiny VT100 screen for tests: enough of the escape codes the terminal view emits to
show what a user would finally see, including scrolled-off lines."""

from __future__ import annotations

import re

_CSI = re.compile(r"\x1b\[([?0-9;]*)([A-Za-z])")


class Screen:
    """Lines of text with a cursor; every line ever written is kept (an endless scrollback)."""

    def __init__(self, width: int = 80, height: int | None = None) -> None:
        self.width = width
        self.height = height  # given, the cursor cannot go back up into scrolled-off lines
        self.lines: list[str] = [""]
        self.row = 0
        self.col = 0
        self.wrapped = 0  # lines that ran past the right edge: the view must never cause one

    def feed(self, data: str) -> Screen:
        pos = 0
        while pos < len(data):
            match = _CSI.match(data, pos)
            if match:
                self._csi(match.group(1), match.group(2))
                pos = match.end()
                continue
            self._char(data[pos])
            pos += 1
        return self

    @property
    def text(self) -> list[str]:
        """The screen's lines, trailing blank ones dropped."""
        lines = [line.rstrip() for line in self.lines]
        while lines and not lines[-1]:
            lines.pop()
        return lines

    def _char(self, char: str) -> None:
        if char == "\n":  # a terminal's output processing (onlcr) makes this CR LF
            self.row, self.col = self.row + 1, 0
            if self.row == len(self.lines):
                self.lines.append("")
        elif char == "\r":
            self.col = 0
        elif char == "\x1b":
            raise AssertionError("unknown escape sequence")
        elif char >= " ":
            if self.col >= self.width:
                self.wrapped += 1
                self._char("\n")
                self.col = 0
            line = self.lines[self.row].ljust(self.col)
            self.lines[self.row] = line[: self.col] + char + line[self.col + 1 :]
            self.col += 1

    def _csi(self, params: str, command: str) -> None:
        n = int(params) if params.isdigit() else None
        if command == "A":
            top = 0 if self.height is None else max(0, len(self.lines) - self.height)
            self.row = max(top, self.row - (n or 1))
        elif command == "K":
            line = self.lines[self.row]
            self.lines[self.row] = "" if n == 2 else line[: self.col]
        elif command == "J":
            self.lines[self.row] = self.lines[self.row][: self.col]
            self.lines[self.row + 1 :] = [""] * (len(self.lines) - self.row - 1)
        elif command not in "mhl":
            raise AssertionError(f"unexpected escape: CSI {params}{command}")
