"""What a gc did (or would do), and how to say it: :class:`GcReport` and its summary."""

from __future__ import annotations

from datetime import datetime

from flowkit.fastdata import dataclass, field
from flowkit.store.gc_plan import Policy


@dataclass
class GcReport:
    """What a gc did (or, for a dry run, would do)."""

    dry_run: bool
    url: str
    policy: Policy
    started: float
    #: Runs whose records went, by flow.
    dropped: dict[str, list[str]] = field(default_factory=dict)
    kept: int = 0
    #: Runs that were to go but that a run created during gc names as its origin.
    spared: list[str] = field(default_factory=list)
    #: Leftovers removed: run folders without a start record, and logs, leases and dead
    #: letters of runs that are gone.
    leftovers: int = 0
    trashed: int = 0
    trashed_bytes: int = 0
    #: Unnamed blobs the time rule left alone.
    young: int = 0
    restored: int = 0
    freed: int = 0
    freed_bytes: int = 0
    waiting: int = 0
    waiting_bytes: int = 0
    #: When the last blob waiting in the trash may be deleted (by a gc run then).
    waiting_until: float | None = None
    temporaries: int = 0
    temporaries_bytes: int = 0
    #: The scheduler's claims (with their launched and takeover records) and events that
    #: could no longer matter (see flowkit.store.deployments.collect_scheduler_records).
    scheduler_records: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        """The report in words, for a terminal."""
        dry = self.dry_run
        would = (lambda verb: f"would be {verb}") if dry else (lambda verb: verb)
        runs = sum(len(ids) for ids in self.dropped.values())
        lines = [
            f"gc of {self.url}" + (" (dry run: nothing was changed)" if dry else ""),
            f"  kept: {describe(self.policy)}",
        ]
        per_flow = ", ".join(f"{len(ids)} of {flow}" for flow, ids in sorted(self.dropped.items()))
        lines.append(
            f"  runs: {runs} {would('deleted')}"
            + (f" ({per_flow})" if runs else "")
            + f"; {self.kept} kept"
        )
        if self.spared:
            lines.append(
                f"  runs kept after all, as runs started during gc resume from them: "
                f"{', '.join(self.spared)}"
            )
        if self.leftovers:
            lines.append(
                f"  leftovers of deleted runs (partial run folders, logs, leases, dead "
                f"letters): {self.leftovers} {would('removed')}"
            )
        lines.append(
            f"  blobs: {self.trashed} ({size(self.trashed_bytes)}) {would('moved to the trash')}"
            + (
                f"; {self.young} unnamed blob(s) written in the last "
                f"{duration(self.policy.grace)} or during a running run left alone"
                if self.young
                else ""
            )
        )
        if self.scheduler_records:
            lines.append(
                f"  the scheduler's claims and events no longer needed: "
                f"{self.scheduler_records} {would('deleted')}"
            )
        if self.restored:
            lines.append(f"  trash: {self.restored} blob(s) a record names {would('put back')}")
        lines.append(
            f"  temporaries of killed writers: {self.temporaries} "
            f"({size(self.temporaries_bytes)}) {would('removed')}"
        )
        lines.append(
            f"  freed now: {size(self.freed_bytes + self.temporaries_bytes)} "
            f"({self.freed} blob(s) deleted from the trash"
            + (", temporaries" if self.temporaries else "")
            + ")"
            if not dry
            else f"  would be freed now: {size(self.freed_bytes + self.temporaries_bytes)} "
            f"({self.freed} blob(s) deleted from the trash)"
        )
        if self.waiting:
            until = datetime.fromtimestamp(self.waiting_until or self.started)
            lines.append(
                f"  {'would wait' if dry else 'waiting'} in the trash: {self.waiting} blob(s), "
                f"{size(self.waiting_bytes)}, until {until:%Y-%m-%d %H:%M} (the grace period "
                f"of {duration(self.policy.grace)}): a gc after that frees them, unless a run "
                "names them again (a read puts a trashed blob back)"
            )
        if not dry:
            lines.append(f"  took {self.seconds:.1f} s")
        return "\n".join(lines)


def describe(policy: Policy) -> str:
    """The retention rules in words."""
    rules = []
    if policy.keep_last is not None:
        rules.append(f"the last {policy.keep_last} run(s) of each flow")
    if policy.keep_newer_than is not None:
        rules.append(f"runs newer than {duration(policy.keep_newer_than)}")
    if policy.keep_tags:
        rules.append(f"runs tagged {', '.join(policy.keep_tags)}")
    rules.append("running runs and the runs kept runs were resumed or cloned from")
    where = f" (only {policy.flow}'s runs may go)" if policy.flow else ""
    return "; ".join(rules) + where


def size(count: int) -> str:
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def duration(seconds: float) -> str:
    for unit, length in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= length and seconds % length == 0:
            return f"{seconds / length:g}{unit}"
    return f"{seconds:g}s"
