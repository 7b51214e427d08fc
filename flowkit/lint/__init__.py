"""The lint layer: every problem with a flow's graph at once, each located and with a hint."""

from flowkit.lint.rules import lint

__all__ = ["lint"]
