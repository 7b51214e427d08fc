"""``run`` on the command line: its own options, and a clean cancel on Ctrl-C or SIGTERM."""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

import click

RUN_OPTIONS = ("store", "max_workers", "max_num_splits", "fail_fast", "quiet", "tag")


def run_options() -> list[click.Option]:
    """The options ``run`` has besides the flow's parameters."""
    return [
        click.Option(["--store"], default=None, help="Store root (default: settings)."),
        click.Option(
            ["--max-workers"],
            type=click.IntRange(min=1),
            default=None,
            help="Tasks running at once (default: the machine's cores).",
        ),
        click.Option(
            ["--max-num-splits"],
            type=click.IntRange(min=1),
            default=10_000,
            show_default=True,
            help="Refuse a foreach that fans out into more tasks than this.",
        ),
        click.Option(
            ["--fail-fast"], is_flag=True, help="Stop launching tasks at the first failure."
        ),
        click.Option(["--quiet"], is_flag=True, help="Only failures and the final summary."),
        click.Option(["--tag"], multiple=True, help="Tag the run (repeatable)."),
    ]


def run_flow(flow_cls: type, options: dict[str, Any], params: dict[str, Any]) -> None:
    """Run the flow for the CLI; exit 1 (after the live view has said why) if it fails."""
    from flowkit.runtime.api import RunFailed, run

    try:
        with sigterm_as_interrupt():
            run(
                flow_cls,
                store=options["store"],
                max_workers=options["max_workers"],
                max_num_splits=options["max_num_splits"],
                fail_fast=options["fail_fast"],
                quiet=options["quiet"],
                tags=options["tag"],
                **params,
            )
    except RunFailed as failed:
        # the terminal view already showed the traceback and how to resume
        sys.exit(130 if failed.cancelled else 1)


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM like Ctrl-C while a run goes, so both cancel it cleanly."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread: leave signals to whoever owns them
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
