"""The lint layer: every problem with a flow's graph at once, each located and with a hint."""

import typing

from flowkit import lazy

if typing.TYPE_CHECKING:  # the same names as below, for type checkers and IDEs
    from flowkit.lint.rules import lint

# Each name is imported on first use (flowkit/lazy.py): importing this package imports
# none of its modules.
__getattr__, __dir__ = lazy.lazy_exports(
    __name__,
    {
        "flowkit.lint.rules": ("lint",),
    },
)

__all__ = ["lint"]
