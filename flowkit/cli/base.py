"""What every flowkit command shares: user errors become one message and an exit code."""

from __future__ import annotations

from typing import Any

import click

from flowkit.errors import FlowkitError, LintError, ParameterError


def exit_code(error: FlowkitError) -> int:
    """1 for a flow that does not pass lint or fails; 2 for a bad command line."""
    return 2 if isinstance(error, ParameterError) else 1


class FlowkitGroup(click.Group):
    """A click group whose commands report a :class:`FlowkitError` without a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except FlowkitError as error:
            prefix = "" if isinstance(error, LintError) else "error: "
            click.echo(prefix + error.render(), err=True)
            ctx.exit(exit_code(error))
