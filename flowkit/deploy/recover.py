"""Claims a crash left open: a scheduler claimed a slot, upstream run or event and stopped
(killed, the machine lost) before the run it was to start existed.

A claim is open while no launched record closes it (see :mod:`flowkit.store.deployments`):
the run's process writes that record once its run exists. An open claim is **cut short**
when its latest attempt (the claim, or the last takeover) is older than the grace period
by the scheduler's clock and no run of the flow carries the claim's system tag
(``claim:<what>``): whoever made the attempt would have had its run by then. Then any
scheduler on the store (the one restarted after the crash, or another) may take it over:
the takeover is written once (``put_new``), so only one of them launches the run again;
its process refuses to run if the claim got its run meanwhile (:mod:`flowkit.deploy.launch`).
A scheduler reads a flow's open claims (two listings) at its first tick and then at most
every fifth of the grace period, not at every tick. After :data:`MAX_ATTEMPTS` attempts
that never made a run, the claim is given up (closed, and said in the log), so a run that
cannot start is not retried for ever. A claim made before the flow was last undeployed is
closed, never launched: what it was for stopped being due with the undeploy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flowkit.store.ids import id_time

if TYPE_CHECKING:
    from flowkit.store import Store

#: Seconds an attempt has to make its run before another may take over (a launch takes a
#: second or two: the run's process starts and writes the run's record).
GRACE = 300.0
#: Attempts at one claim (the claim and its takeovers) before it is given up.
MAX_ATTEMPTS = 3
#: How far before an attempt's own time the runs are searched for its tag (clock skew
#: between machines).
SKEW = 3600.0
PREFIX = "claim:"


def claim_tag(what: str) -> str:
    """The system tag naming the claim a run was launched for."""
    return f"{PREFIX}{what}"


def cut_short(attempts: list[dict[str, Any]], now: float, grace: float) -> bool:
    """Whether the latest attempt at a claim is older than ``grace`` at ``now`` (the
    scheduler's clock; a clock gone backwards makes no attempt old)."""
    latest = attempts[-1]
    clock = latest.get("clock")
    return isinstance(clock, int | float) and now - clock > grace


def tagged_run(store: Store, flow: str, what: str, since: float) -> str | None:
    """The run of ``flow`` launched for the claim ``what``, made after ``since`` (real time,
    less :data:`SKEW`); None if there is none. Newest runs first: it is among them."""
    tag = claim_tag(what)
    for run_id in reversed(store.records.list_runs(flow)):
        made = id_time(run_id)
        if made is None:
            continue  # not made by a launch (a resume given --run-id)
        if made < since - SKEW:
            return None
        record = store.records.get_run(flow, run_id)
        if tag in record.system_tags:
            return run_id
    return None
