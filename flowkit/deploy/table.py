"""``flowkit deployments``: one row per deployed flow, with its next fire time (in the flow's
time zone and in UTC), its triggers, overlap policy, and its latest run and how it stands."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from flowkit.fastdata import dataclass
from flowkit.store.deployments import Deployment

if TYPE_CHECKING:
    from flowkit.store import Store


@dataclass(frozen=True)
class Row:
    flow: str
    schedule: str
    next_local: str
    next_utc: str
    triggers: str
    overlap: str
    last_run: str
    last_status: str


def next_fire(deployment: Deployment, now: datetime) -> tuple[str, str]:
    """The next slot after ``now``, in the flow's zone and in UTC (``-`` without a schedule)."""
    from zoneinfo import ZoneInfo

    from flowkit.authoring.cron import CronSchedule

    if deployment.cron is None:
        return "-", "-"
    slot = CronSchedule(deployment.cron, deployment.timezone).next_after(now)
    zone = ZoneInfo(deployment.timezone) if deployment.timezone else UTC
    local = slot.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")
    return local, slot.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def rows(store: Store, now: datetime) -> list[Row]:
    found = []
    for flow, deployment in store.deployments.each_current():
        if not isinstance(deployment, Deployment):  # said in its row; the others are listed
            found.append(Row(flow, "DAMAGED", "-", "-", deployment.message, "-", "-", "-"))
            continue
        local, utc = next_fire(deployment, now)
        triggers = [f"after {f}" for f in deployment.on_finish]
        triggers += [f"event {e.name}" for e in deployment.events]
        runs = store.records.list_runs(deployment.flow)
        last, status = "-", "-"
        if runs:
            last = runs[-1]
            status = store.leases.run_state(store.records.get_run(deployment.flow, last))
        schedule = "-"
        if deployment.cron is not None:
            schedule = f"{deployment.cron} ({deployment.timezone or 'UTC'})"
            schedule += ", catchup" if deployment.catchup else ""
        found.append(
            Row(
                deployment.flow,
                schedule,
                local,
                utc,
                ", ".join(triggers) or "-",
                deployment.overlap,
                last,
                status,
            )
        )
    return found


HEADERS = (
    "FLOW",
    "SCHEDULE",
    "NEXT (LOCAL)",
    "NEXT (UTC)",
    "TRIGGERS",
    "OVERLAP",
    "LAST RUN",
    "STATUS",
)


def render(found: list[Row]) -> str:
    """The rows as an aligned table."""
    table = [
        HEADERS,
        *(
            (
                r.flow,
                r.schedule,
                r.next_local,
                r.next_utc,
                r.triggers,
                r.overlap,
                r.last_run,
                r.last_status,
            )
            for r in found
        ),
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(HEADERS))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in table
    )
