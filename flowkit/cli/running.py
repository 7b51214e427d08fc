"""``run`` on the command line: its own options, and a clean cancel on Ctrl-C or SIGTERM."""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

import click

RUN_OPTIONS = ("store", "max_workers", "max_num_splits", "fail_fast", "quiet", "tag", "with_")


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
        click.Option(
            ["--with", "with_"],
            multiple=True,
            metavar="DECORATOR[:ARG=VALUE,...]",
            help=(
                "Apply a step decorator (retry, catch, timeout) to every step that lacks it, "
                "e.g. --with retry or --with retry:times=2,backoff=0.5 (repeatable)."
            ),
        ),
    ]


def reuse_options() -> list[click.Option]:
    """``run``'s options for reusing earlier tasks."""
    return [
        click.Option(
            ["--reuse"],
            is_flag=True,
            help="Reuse earlier tasks with the same code, inputs and parameters.",
        ),
        click.Option(
            ["--dry-run"],
            is_flag=True,
            help="With --reuse: say which tasks would be reused or run, and why; run nothing.",
        ),
    ]


def resume_arguments() -> list[click.Parameter]:
    """``resume``'s own arguments and options."""
    return [
        click.Argument(["step"], required=False),
        click.Option(
            ["--origin-run-id"],
            default=None,
            help="The run to resume (default: the flow's most recent run).",
        ),
        click.Option(
            ["--reuse"],
            is_flag=True,
            help="Also run again the tasks whose code changed since the origin run.",
        ),
        click.Option(
            ["--dry-run"],
            is_flag=True,
            help="Say which tasks would be cloned or run, and why; run nothing.",
        ),
    ]


def run_flow(
    flow_cls: type, options: dict[str, Any], params: dict[str, Any], *, reuse: bool, dry_run: bool
) -> None:
    """``run`` for the CLI; exit 1 (after the live view has said why) if it fails."""
    from flowkit.surfaces.api import run

    _go(run, flow_cls, options, params, reuse=reuse, dry_run=dry_run)


def resume_flow(
    flow_cls: type,
    options: dict[str, Any],
    params: dict[str, Any],
    *,
    step: str | None,
    origin: str | None,
    reuse: bool,
    dry_run: bool,
) -> None:
    """``resume`` for the CLI; like :func:`run_flow`."""
    from flowkit.surfaces.api import resume

    _go(
        resume,
        flow_cls,
        options,
        params,
        step=step,
        origin_run_id=origin,
        reuse=reuse,
        dry_run=dry_run,
    )


def _go(
    start: Callable[..., Any],
    flow_cls: type,
    options: dict[str, Any],
    params: dict[str, Any],
    **extra: Any,
) -> None:
    from flowkit.runtime.api import RunFailed

    try:
        with sigterm_as_interrupt():
            result = start(
                flow_cls,
                store=options["store"],
                max_workers=options["max_workers"],
                max_num_splits=options["max_num_splits"],
                fail_fast=options["fail_fast"],
                quiet=options["quiet"],
                tags=options["tag"],
                with_decorators=options["with_"],
                **extra,
                **params,
            )
    except RunFailed as failed:
        # the terminal view already showed the traceback and how to resume
        sys.exit(130 if failed.cancelled else 1)
    if extra.get("dry_run"):
        click.echo(str(result))


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
