"""Where everything lives under a store root; the one place that spells out keys.

::

    blobs/<d[:2]>/<digest>                               a value (content-addressed)
    runs/<Flow>/<run_id>/run.json                        run record, written at start
    runs/<Flow>/<run_id>/end.json                        run end record, written at finish
    runs/<Flow>/<run_id>/index/<step>.json               a step's final task records, written
                                                         once at finish (a read shortcut;
                                                         zlib-compressed JSON, or plain JSON
                                                         from an older flowkit)
    runs/<Flow>/<run_id>/steps/<step>/<task>.<n>.start.json   attempt n started (written
                                                         once it has run 0.5 s: a quicker
                                                         one has only its final record)
    runs/<Flow>/<run_id>/steps/<step>/<task>.<n>.json         attempt n ended (final record)
    runs/<Flow>/<run_id>/explain.json                    why each task ran or was reused
    runs/<Flow>/<run_id>/tags/<change_id>.json           one change of the run's user tags
                                                         (written once; folded in id order)
    runs/<Flow>/<run_id>/scheduler.json                  which process drives a detached run
                                                         (written once: a second one refuses)
    logs/<Flow>/<run_id>/<step>/<task>/<n>/<stream>.<seq>     log chunks, appended in order
    logs/<Flow>/<run_id>/<step>/<task>/<n>/end           the log is complete (written once,
                                                         empty, after the task's last output:
                                                         its final record can come before it)
    cache/<Flow>/steps/<step>.json                       each cache key of the step's tasks
                                                         -> the latest successful task with
                                                         it (for run --reuse; merged in as a
                                                         run ends; zlib-compressed JSON)
    cache/<Flow>/<key[:2]>/<key>.json                    one such task, as an older flowkit
                                                         wrote it (still read)
    deadletters/<id>/letter.json                         a task that exhausted its retries
    deadletters/<id>/retry.<run_id>.json                 a retry of it, and how it ended
    leases/<Flow>/<run_id>.json                          the run's scheduler is alive until
                                                         then (overwritten every few seconds)
    quarantine/<digest>.<random>                         a damaged blob fsck --repair moved
                                                         aside before deleting it
    trash/<batch>/<digest>                               a blob gc took away; a read puts it
                                                         back, a later gc deletes it
    deployments/<Flow>/versions/<id>.json                one version of a flow's deployment
                                                         (written once; the latest wins, and
                                                         an undeploy is a version of its own)
    deployments/<Flow>/claims/<what>.json                a schedule slot, upstream run or
                                                         event the scheduler fired the flow
                                                         for (written once: put_new)
    deployments/<Flow>/launched/<what>.json              the run a claim started (or that it
                                                         was skipped, given up): written once
    deployments/<Flow>/takeovers/<what>.<n>.json         the n-th launch of a claim a crash
                                                         cut short (written once)
    deployments/<Flow>/state.json                        how far the scheduler got (overwritten)
    events/<name>/<id>.json                              a published event (written once)

Records, blobs and log chunks are written once and never changed, so no writer needs a lock.
A lease has one writer (its run's scheduler) and lives apart, under its own prefix; a step's
cache entries are an index that each run ending merges its tasks into (a whole-object ``put``).
Listing a run's flows, runs, steps, or a step's task attempts is one ``list`` each.
"""

from __future__ import annotations

import os

from flowkit.store.keys import check_name

FLOWS = "runs"
#: The name, next to an attempt's log chunks, of the mark that its log is complete.
LOG_END = "end"
START_SUFFIX = ".start.json"
FINAL_SUFFIX = ".json"


def flow_prefix(flow: str) -> str:
    return f"{FLOWS}/{check_name('flow', flow)}"


def run_prefix(flow: str, run_id: str) -> str:
    return f"{flow_prefix(flow)}/{check_name('run', run_id)}"


def run_key(flow: str, run_id: str) -> str:
    return f"{run_prefix(flow, run_id)}/run.json"


def run_end_key(flow: str, run_id: str) -> str:
    return f"{run_prefix(flow, run_id)}/end.json"


def step_index_key(flow: str, run_id: str, step: str) -> str:
    return f"{run_prefix(flow, run_id)}/index/{check_name('step', step)}.json"


def steps_prefix(flow: str, run_id: str) -> str:
    return f"{run_prefix(flow, run_id)}/steps"


def step_prefix(flow: str, run_id: str, step: str) -> str:
    return f"{steps_prefix(flow, run_id)}/{check_name('step', step)}"


def attempt_key(
    flow: str, run_id: str, step: str, task_id: str, attempt: int, *, final: bool
) -> str:
    name = f"{check_name('task', task_id)}.{int(attempt)}"
    return f"{step_prefix(flow, run_id, step)}/{name}{FINAL_SUFFIX if final else START_SUFFIX}"


def parse_attempt_name(name: str) -> tuple[str, int, bool] | None:
    """``(task_id, attempt, final)`` for a name under a step prefix; None for anything else."""
    final = not name.endswith(START_SUFFIX)
    stem = name[: -len(START_SUFFIX if not final else FINAL_SUFFIX)]
    if not name.endswith(FINAL_SUFFIX):
        return None
    task_id, _, attempt = stem.partition(".")
    if not attempt.isdigit() or not task_id:
        return None
    return task_id, int(attempt), final


def log_prefix(flow: str, run_id: str, step: str, task_id: str, attempt: int) -> str:
    parts = (
        check_name("flow", flow),
        check_name("run", run_id),
        check_name("step", step),
        check_name("task", task_id),
    )
    return "logs/" + "/".join(parts) + f"/{int(attempt)}"


def log_end_key(flow: str, run_id: str, step: str, task_id: str, attempt: int) -> str:
    """Written once, empty, after every byte of the attempt's output is in its log."""
    return f"{log_prefix(flow, run_id, step, task_id, attempt)}/{LOG_END}"


def scheduler_claim_key(flow: str, run_id: str) -> str:
    return f"{run_prefix(flow, run_id)}/scheduler.json"


def tags_prefix(flow: str, run_id: str) -> str:
    return f"{run_prefix(flow, run_id)}/tags"


def tag_change_key(flow: str, run_id: str, change_id: str) -> str:
    return f"{tags_prefix(flow, run_id)}/{check_name('tag change', change_id)}.json"


def explain_key(flow: str, run_id: str) -> str:
    return f"{run_prefix(flow, run_id)}/explain.json"


#: The folder, next to an older flowkit's ``<key[:2]>`` folders, of each step's cache index.
CACHE_STEPS = "steps"


def cache_steps_prefix(flow: str) -> str:
    return f"cache/{check_name('flow', flow)}/{CACHE_STEPS}"


def step_cache_key(flow: str, step: str) -> str:
    return f"{cache_steps_prefix(flow)}/{check_name('step', step)}.json"


def cache_key_path(flow: str, key: str) -> str:
    return f"cache/{check_name('flow', flow)}/{check_name('key', key[:2])}/{check_name('key', key)}.json"


DEAD_LETTERS = "deadletters"


def dead_letter_key(letter_id: str) -> str:
    return f"{DEAD_LETTERS}/{check_name('dead letter', letter_id)}/letter.json"


def dead_letter_retry_key(letter_id: str, run_id: str) -> str:
    return f"{DEAD_LETTERS}/{check_name('dead letter', letter_id)}/retry.{check_name('run', run_id)}.json"


LEASES = "leases"


def lease_key(flow: str, run_id: str) -> str:
    return f"{LEASES}/{check_name('flow', flow)}/{check_name('run', run_id)}.json"


QUARANTINE = "quarantine"


def quarantine_key(digest: str) -> str:
    """A fresh place to move a damaged blob aside to (never the same twice)."""
    return f"{QUARANTINE}/{digest}.{os.urandom(6).hex()}"


TRASH = "trash"


def trash_batch_prefix(batch: str) -> str:
    return f"{TRASH}/{check_name('gc batch', batch)}"


def trash_key(batch: str, digest: str) -> str:
    """Where gc batch ``batch`` puts blob ``digest`` (see :mod:`flowkit.store.trash`)."""
    return f"{trash_batch_prefix(batch)}/{check_name('digest', digest)}"


DEPLOYMENTS = "deployments"
EVENTS = "events"


def deployment_prefix(flow: str) -> str:
    return f"{DEPLOYMENTS}/{check_name('flow', flow)}"


def deployment_version_key(flow: str, version: str) -> str:
    return f"{deployment_prefix(flow)}/versions/{check_name('deployment version', version)}.json"


def deployment_claim_key(flow: str, claim: str) -> str:
    """``claim``: ``slot.<epoch seconds>``, ``run.<Flow>.<run_id>`` or ``event.<name>.<id>``."""
    return f"{deployment_prefix(flow)}/claims/{claim}.json"


def deployment_state_key(flow: str) -> str:
    return f"{deployment_prefix(flow)}/state.json"


def event_prefix(name: str) -> str:
    return f"{EVENTS}/{check_name('event', name)}"


def event_key(name: str, event_id: str) -> str:
    return f"{event_prefix(name)}/{check_name('event id', event_id)}.json"


#: Top-level prefixes whose every object is written once and never changed (a blob is only
#: ever replaced by the same bytes when a damaged copy heals).
_WRITE_ONCE_ROOTS = frozenset({"blobs", "logs", DEAD_LETTERS})
#: Objects under a run's folder that are written once (``steps/`` and ``index/``,
#: ``tags/`` hold nothing else).
_WRITE_ONCE_RUN_FILES = frozenset({"run.json", "end.json", "explain.json", "scheduler.json"})
_WRITE_ONCE_RUN_FOLDERS = frozenset({"steps", "index", "tags"})


def write_once(key: str) -> bool:
    """Whether the object under ``key`` never changes once written, so a reader may keep it:
    blobs, log chunks, dead letters and their retries, and a run's start, end, explanation,
    step index, attempt (start and final) and tag-change records. Not a lease (overwritten
    every beat), a cache entry (taken over by the latest task), nor anything gc or fsck
    moves about (trash, quarantine)."""
    parts = key.split("/")
    if parts[0] in _WRITE_ONCE_ROOTS:
        return len(parts) > 1
    if parts[0] != FLOWS or len(parts) < 4:
        return False
    if len(parts) == 4:
        return parts[3] in _WRITE_ONCE_RUN_FILES
    return parts[3] in _WRITE_ONCE_RUN_FOLDERS and parts[-1].endswith(".json")
