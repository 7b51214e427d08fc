"""``run`` on the command line: its own options, and a clean cancel on Ctrl-C or SIGTERM."""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

import click

from flowkit.authoring.names import RUN_OPTIONS
from flowkit.cli.base import StoreOption
from flowkit.plan.tasks import MAX_NUM_SPLITS


def run_options() -> list[click.Option]:
    """The options ``run`` and ``resume`` have besides the flow's parameters."""
    return [
        StoreOption(["store"]),
        _option(
            "max_workers",
            type=click.IntRange(min=1),
            default=None,
            help="Tasks running at once (default: the machine's cores).",
        ),
        _option(
            "max_num_splits",
            type=click.IntRange(min=1),
            default=MAX_NUM_SPLITS,
            show_default=True,
            help="Refuse a foreach that fans out into more tasks than this.",
        ),
        _option("fail_fast", is_flag=True, help="Stop launching tasks at the first failure."),
        _option("quiet", is_flag=True, help="Only failures and the final summary."),
        _option(
            "tags",
            "--tags",  # flowkit's first spelling, kept
            multiple=True,
            help="Tag the run (repeatable).",
        ),
        _option(
            "namespace",
            default=None,
            metavar="TAG",
            help=(
                "The namespace the client reads runs in inside the steps (default: "
                "user:<you>; --namespace= for every run). The run's own tags do not change."
            ),
        ),
        _option(
            "with_decorators",
            multiple=True,
            metavar="DECORATOR[:ARG=VALUE,...]",
            help=(
                "Apply a step decorator (retry, catch, timeout, card) or an executor to every step "
                "that lacks one, e.g. --with retry:times=2,backoff=0.5 or --with "
                "slurm:partition=gpu (repeatable)."
            ),
        ),
        _option(
            "detach",
            is_flag=True,
            help=(
                "Run the scheduler as a job of the run's executor (--with slurm) and return "
                "at once; follow the run with flowkit show/logs."
            ),
        ),
        _option(
            "run_id_file",
            default=None,
            metavar="PATH",
            help="Write the run's id to PATH as soon as the run exists.",
        ),
        _option(
            "runner_attribute_file",
            default=None,
            hidden=True,  # what Runner reads: the id, flow and store, as JSON
        ),
    ]


def reuse_options() -> list[click.Option]:
    """``run``'s options for reusing earlier tasks."""
    return [
        _option(
            "reuse",
            is_flag=True,
            help="Reuse earlier tasks with the same code, inputs and parameters.",
        ),
        _option(
            "dry_run",
            is_flag=True,
            help="With --reuse: say which tasks would be reused or run, and why; run nothing.",
        ),
    ]


def resume_arguments() -> list[click.Parameter]:
    """``resume``'s own arguments and options."""
    return [
        click.Argument(["step"], required=False),
        _option(
            "origin_run_id",
            default=None,
            help="The run to resume (default: the flow's most recent run).",
        ),
        _option(
            "run_id",
            default=None,
            hidden=True,  # as Metaflow's: for schedulers that name runs themselves
            help=(
                "The new run's id (default: a new time-sorted id); refused if a run has it "
                "or if it reads as a time-sorted id."
            ),
        ),
        _option(
            "reuse",
            is_flag=True,
            help="Also run again the tasks whose code changed since the origin run.",
        ),
        _option(
            "dry_run",
            is_flag=True,
            help="Say which tasks would be cloned or run, and why; run nothing.",
        ),
    ]


def run_flow(flow_cls: type, given: dict[str, Any]) -> None:
    """``run`` for the CLI with what click parsed; exit 1 (after the live view has said why)
    if it fails."""
    from flowkit.surfaces.api import run

    _go(run, flow_cls, given)


def resume_flow(flow_cls: type, given: dict[str, Any]) -> None:
    """``resume`` for the CLI; like :func:`run_flow`."""
    from flowkit.surfaces.api import resume

    _go(resume, flow_cls, given)


_BY_KEYWORD = {o.keyword: o for o in RUN_OPTIONS}


def _option(keyword: str, *aliases: str, **attrs: Any) -> click.Option:
    """The flag of the run option ``keyword`` (and any ``aliases``), passed on as that
    keyword."""
    return click.Option([f"--{_BY_KEYWORD[keyword].flag}", *aliases, keyword], **attrs)


def _go(start: Callable[..., Any], flow_cls: type, given: dict[str, Any]) -> None:
    from flowkit.executor import warm
    from flowkit.runtime.api import RunFailed

    options = {k: v for k, v in given.items() if k in _BY_KEYWORD}
    # a parameter not given keeps its default (or, on a resume, the origin run's value)
    params = {k: v for k, v in given.items() if k not in _BY_KEYWORD and v is not None}
    try:
        # this process ends with its run: its worker is shut down then, not parked
        with sigterm_as_interrupt(), warm.parking(False):
            result = start(flow_cls, **options, **params)
    except RunFailed as failed:
        # the terminal view already showed the traceback and how to resume
        sys.exit(130 if failed.cancelled else 1)
    if options.get("dry_run"):
        click.echo(str(result))
    elif options.get("detach"):  # for scripts: RUN=$(python flow.py run --detach)
        click.echo(result.pathspec)


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
