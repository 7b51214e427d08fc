"""``flowkit gc``: delete the runs no rule keeps and free the blobs nothing names."""

from __future__ import annotations

import sys
import time

import click

from flowkit.cli.base import note_if_empty, store_option


def _duration(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    from flowkit.settings import DURATION_HINT, parse_duration

    if value is None:
        return None
    seconds = parse_duration(value)
    if seconds is None:
        raise click.BadParameter(f"{value!r} is not a duration: {DURATION_HINT}")
    return seconds


class _Progress:
    """Each phase on stderr, and on a long one how far it got, at most once a second."""

    def __init__(self) -> None:
        self._phase = ""
        self._shown = 0.0

    def __call__(self, phase: str, done: int, total: int) -> None:
        now = time.monotonic()
        if phase == self._phase and now - self._shown < 1:
            return
        count = f" ({done:,} of {total:,})" if done else (f" ({total:,})" if total else "")
        click.echo(f"gc: {phase}{count}", err=True)
        self._phase, self._shown = phase, now


@click.command("gc")
@click.option(
    "--keep-last", type=click.IntRange(min=0), default=None, metavar="N",
    help="Keep the last N runs of each flow.",
)  # fmt: skip
@click.option(
    "--keep-newer-than", callback=_duration, default=None, metavar="DURATION",
    help="Keep runs created less than DURATION ago (30d, 12h, 90m).",
)  # fmt: skip
@click.option(
    "--keep-tag", "keep_tags", multiple=True, metavar="TAG",
    help="Keep runs with this tag (repeatable).",
)  # fmt: skip
@click.option(
    "--grace", callback=_duration, default=None, metavar="DURATION",
    help="Never take a blob written less than this long ago, and empty the trash of blobs "
    "trashed longer ago than this [default: 1h; 0: nothing runs, free space now].",
)  # fmt: skip
@click.option("--flow", "flow", default=None, metavar="FLOW", help="Delete runs of this flow only.")
@click.option("--dry-run", is_flag=True, help="Change nothing; print what would go.")
@store_option
def gc_cmd(
    keep_last: int | None,
    keep_newer_than: float | None,
    keep_tags: tuple[str, ...],
    grace: float | None,
    flow: str | None,
    dry_run: bool,
    store_url: str | None,
) -> None:
    """Delete the runs no rule keeps, then free the blobs no kept run names.

    A run is kept if any rule keeps it (--keep-last, --keep-newer-than, --keep-tag, or
    gc_keep_* in [tool.flowkit] / FLOWKIT_GC_*); running runs and the runs kept runs were
    resumed from are always kept. Unnamed blobs go to the trash first and are deleted by a
    gc run after the grace period, so a run going on meanwhile never loses one.
    """
    from flowkit.settings import Settings
    from flowkit.store import check_name
    from flowkit.store.gc import collect
    from flowkit.store.gc_plan import Policy
    from flowkit.store.open import open_store

    settings = Settings.resolve(
        {
            "store": store_url,
            "gc_keep_last": keep_last,
            "gc_keep_newer_than": keep_newer_than,
            "gc_keep_tags": keep_tags or None,
            "gc_grace": grace,
        }
    )
    policy = Policy.from_settings(settings, flow=None if flow is None else check_name("flow", flow))
    policy.check()  # before opening the store: a missing rule is the first thing to say
    store = open_store(settings.store)
    note_if_empty(store)
    report = collect(store, policy, dry_run=dry_run, progress=_Progress())
    sys.stderr.flush()
    click.echo(report.summary())
