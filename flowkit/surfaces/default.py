"""Which view a run shows when the caller chose none: a widget in Jupyter, else the terminal."""

from __future__ import annotations

import sys

from flowkit.runtime.events import ProgressSink


def in_notebook() -> bool:
    """Whether this code runs in a Jupyter kernel (where a widget can be displayed)."""
    if "ipykernel" not in sys.modules:
        return False
    from IPython import get_ipython

    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def default_view(quiet: bool = False) -> ProgressSink:
    if in_notebook():
        try:
            from flowkit.surfaces.notebook import NotebookView

            return NotebookView(quiet=quiet)
        except ImportError:  # ipywidgets is not installed: the text view works everywhere
            pass
    from flowkit.surfaces.terminal import TerminalView

    return TerminalView(quiet=quiet)
