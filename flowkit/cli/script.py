"""``FlowSpec``, the class every flow derives from: :class:`FlowSpecBase` (what a flow is and
what a step's ``self`` can do) plus the command line a flow file gets when it runs as a script.

It lives here, at the top, because starting the command line needs every layer; the layers
below know flows only by :class:`~flowkit.authoring.flowspec.FlowSpecBase`.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

from flowkit.authoring.decorators import is_step
from flowkit.authoring.flowspec import FlowSpecBase
from flowkit.graph.compat import GraphAttribute


class FlowSpec(FlowSpecBase):
    """Subclass this and mark methods with ``@step``; ``start`` and ``end`` are required.

    Constructing a flow has no side effects, except ``MyFlow()`` at the bottom of a flow
    file run as a script, which starts the command line (``python flow.py run``).
    """

    #: Metaflow's graph introspection (``self._graph``, ``MyFlow._graph``), built on first use.
    _graph = GraphAttribute()

    def __init__(self, use_cli: bool = True) -> None:
        super().__init__()
        if use_cli and _launched_as_script(type(self)):
            from flowkit.executor.warm import prefork

            prefork(sys.argv[1:])  # a run's worker imports while the CLI imports
            from flowkit.cli.flow_cli import main
            from flowkit.exits import run_as_program

            run_as_program(lambda: main(type(self)))

    def __iter__(self) -> Iterator[Any]:
        """The flow's step functions in graph order (``for step in self``), as in Metaflow:
        each with its ``name``, ``is_step`` and ``decorators`` (a read-only view of the step's
        decorators, ``name`` and ``attributes``, as ``_graph`` has them)."""
        steps = []
        for node in self._graph:
            func = getattr(type(self), node.name)
            func.decorators = tuple(node.decorators)
            steps.append(func)
        return iter(steps)


def _launched_as_script(cls: type) -> bool:
    """True when ``cls`` lives in the file Python was started with (``python flow.py``)."""
    if cls.__module__ != "__main__":
        return False
    main_file = getattr(sys.modules.get("__main__"), "__file__", None)
    if not main_file or "ipykernel" in sys.modules:
        return False
    for value in vars(cls).values():
        if is_step(value):
            return bool(value.__code__.co_filename == main_file)
    return True
