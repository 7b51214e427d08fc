"""The ``batch`` executor: each task an AWS Batch job, each foreach one array job, and no
process waiting on any of them.

What happened is read from the store first (:class:`~flowkit.executor.watch.StoreWatch`:
one listing per step), and from Batch only to notice jobs that ended without their final
record: one poller per run, ``DescribeJobs`` of up to 100 ids a call, at an interval that
grows while nothing changes. An array's parent says how many of its children ended how
(``statusSummary``); its children are described only once one may have died. A job that
ended without its record is explained from Batch's ``statusReason`` (and the CloudWatch log
stream): lost when its machine failed, failed when its image is at fault.

A foreach is one array job (``arrayProperties.size``) whose children all run ``python -m
flowkit.worker --index-from AWS_BATCH_JOB_ARRAY_INDEX STORE KEY``: KEY names the list of
its tasks' specs in the store, so the command is short whatever the fan-out.
``--max-workers N`` (when given) bounds the run's jobs at once: an array goes in chunks as
earlier ones end.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flowkit.executor.base import (
    DRIVER_MODULE,
    WORKER_MODULE,
    ExecutorContext,
    Failed,
    Killed,
    Message,
    Request,
    Submission,
)
from flowkit.executor.watch import StoreWatch
from flowkit_aws_batch.client import Batch, BatchError, BatchRefused
from flowkit_aws_batch.jobdefs import definition, name_of
from flowkit_aws_batch.options import BatchOptions, OptionError
from flowkit_aws_batch.reasons import NORMAL_EXIT, explain

#: Seconds between looks at the store (S3: a listing per step) and reads of running logs.
STORE_EVERY, ECHO_EVERY = 1.0, 5.0
#: ``DescribeJobs`` every POLL_MIN seconds while things change, up to POLL_MAX while not.
POLL_MIN, POLL_MAX = 2.0, 30.0
#: How long the store may take to show the final record of a job Batch says ended. A job
#: SUCCEEDED only if its worker read back a successful final record before exiting 0, so
#: the record is there: a missing one is a store that lags, waited for long (nothing is
#: lost by waiting, and a lost task retried would run twice). A job that failed, or that
#: Batch ended (terminated, its instance reclaimed), may have died before writing it.
SUCCEEDED_GRACE, FAILED_GRACE = 600.0, 5.0
#: ``SubmitJob`` tries for one batch before its tasks fail, with backoff.
SUBMIT_TRIES = 6
#: Batch's bounds on an array job's size.
MIN_ARRAY, MAX_ARRAY = 2, 10_000
_ENDED = ("SUCCEEDED", "FAILED")

#: Only RUNNING counts as started: STARTING is still pulling the image, which @timeout must
#: not count.
_RUNNING = ("RUNNING",)
_NAME = re.compile(r"[^A-Za-z0-9_-]+")


@dataclass
class _Job:
    """One submitted task attempt: its job, or its child ``PARENT:INDEX`` of an array."""

    key: str
    job_id: str
    parent: str
    #: When Batch first said it ended while the store had no final record (monotonic).
    ended_at: float | None = None


@dataclass
class _Batch:
    """Tasks of one step and attempt asking for the same, not all submitted yet."""

    tasks: list[Submission]
    options: BatchOptions
    request: Request
    tries: int = 0
    not_before: float = 0.0


class BatchExecutor:
    """Runs tasks as AWS Batch jobs (``@batch(...)``, ``--with batch``)."""

    def __init__(self, context: ExecutorContext) -> None:
        self._store = context.store
        self._limit = context.max_workers if context.max_workers_chosen else None
        self._batch = Batch()
        self._watch = StoreWatch(context.store, echo=context.echo)
        self._echo = context.echo
        self._jobs: dict[str, _Job] = {}
        self._waiting: list[_Batch] = []
        self._news: list[Message] = []
        self._to_cancel: set[str] = set()
        self._interval = POLL_MIN
        #: Each array's count of failed children at the last look.
        self._failed: dict[str, int] = {}
        #: Jobs that can never leave the queue, to terminate.
        self._stuck: set[str] = set()
        self._next_store = self._next_echo = self._next_poll = 0.0

    # -- the executor interface ---------------------------------------------------------------
    def check(self, request: Request) -> str | None:
        if not self._store.url.startswith("s3://"):
            return (
                f"AWS Batch jobs need an s3:// store, and this run's store is {self._store.url} "
                "(a container cannot reach it): run with --store s3://BUCKET/PREFIX "
                "(pip install flowkit-s3)"
            )
        try:
            options = BatchOptions.of(request.options)
        except OptionError as exc:
            return str(exc)
        missing = options.missing()
        if missing is not None or options.queue is None:
            return missing
        try:
            return self._batch.queue_problem(options.queue)
        except BatchError as exc:
            return exc.message

    def submit(self, tasks: Sequence[Submission]) -> None:
        batches: dict[tuple[Any, ...], _Batch] = {}
        for task in tasks:
            options = BatchOptions.of(task.request.options)
            spec, request = task.spec, task.request
            group = (spec.flow, spec.run_id, spec.step, spec.attempt, options, repr(request))
            if group not in batches:
                batches[group] = _Batch([], options, request)
                self._waiting.append(batches[group])
            batches[group].tasks.append(task)
        self._submit_due()

    def poll(self, timeout: float) -> list[Message]:
        deadline = time.monotonic() + timeout
        while True:
            self._cancel_asked()
            self._submit_due()
            now = time.monotonic()
            if now >= self._next_store:
                self._look_in_store()
                self._next_store = time.monotonic() + STORE_EVERY
            if self._echo and now >= self._next_echo:
                self._news += self._watch.outputs()
                self._next_echo = time.monotonic() + ECHO_EVERY
            if self._jobs and now >= self._next_poll:
                self._ask_batch()
                self._next_poll = time.monotonic() + self._interval
            now = time.monotonic()
            if self._news or now >= deadline:
                news, self._news = self._news, []
                return news
            later = [b.not_before for b in self._waiting if b.not_before > now]
            due = [deadline, self._next_store, *later]
            if self._jobs:
                due.append(self._next_poll)
            time.sleep(max(0.0, min(due) - now))

    def cancel(self, key: str) -> None:
        for batch in self._waiting:
            for task in batch.tasks:
                if task.key == key:  # not submitted yet: nothing to stop
                    batch.tasks.remove(task)
                    self._news.append(Killed(key))
                    return
        if key in self._jobs:
            self._to_cancel.add(key)

    def close(self) -> None:
        self._waiting.clear()
        self._to_cancel |= set(self._jobs)
        self._cancel_asked()
        if self._to_cancel:
            left = sorted(self._jobs[k].job_id for k in self._to_cancel)
            raise BatchError(
                f"AWS Batch did not take the termination of {len(left)} job(s) of this run: "
                f"{', '.join(left[:10])}{' ...' if len(left) > 10 else ''}",
                "terminate them in the AWS Batch console (or aws batch terminate-job)",
            )

    @classmethod
    def detach(cls, context: ExecutorContext, key: str, options: Mapping[str, Any]) -> str:
        """Submit a run's scheduler (``python -m flowkit.driver STORE KEY``) as a small Batch
        job of its own; see :mod:`flowkit.runtime.detach`."""
        opts = BatchOptions.of(options)
        missing = opts.missing()
        if missing:
            raise BatchError(f"--detach cannot submit the scheduler: {missing}")
        if not context.store.url.startswith("s3://"):
            raise BatchError(
                f"--detach cannot submit the scheduler: its job could not reach this run's "
                f"store, {context.store.url}",
                "run with --store s3://BUCKET/PREFIX (pip install flowkit-s3)",
            )
        batch = Batch()
        content = definition(opts, Request(cpu=1, memory=2048))
        job = batch.submit(
            jobName="flowkit-scheduler",
            jobQueue=opts.queue,
            jobDefinition=batch.definition(name_of(content), content),
            containerOverrides={"command": opts.command([DRIVER_MODULE, context.store.url, key])},
        )
        return f"AWS Batch job {job} (queue {opts.queue})"

    # -- submitting ---------------------------------------------------------------------------
    def _submit_due(self) -> None:
        now = time.monotonic()
        for batch in list(self._waiting):
            if not batch.tasks:
                self._waiting.remove(batch)
                continue
            if batch.not_before > now:
                continue
            room = len(batch.tasks) if self._limit is None else self._limit - len(self._jobs)
            if room <= 0:
                return  # --max-workers: the rest go as earlier jobs end
            taken = batch.tasks[: min(room, MAX_ARRAY)]
            try:
                self._submit(batch, taken)
            except BatchError as exc:
                batch.tries += 1
                if batch.tries < SUBMIT_TRIES and not isinstance(exc, BatchRefused):
                    batch.not_before = now + min(30.0, 2.0**batch.tries)
                    continue
                reason = f"AWS Batch took no job for it in {batch.tries} tries: {exc.message}"
                self._news += [Failed(t.key, 1, reason) for t in batch.tasks]
                batch.tasks.clear()
                continue
            del batch.tasks[: len(taken)]
            batch.tries = 0

    def _submit(self, batch: _Batch, tasks: list[Submission]) -> None:
        options, first = batch.options, tasks[0].spec
        content = definition(options, batch.request)
        arn = self._batch.definition(name_of(content), content)
        keys = self._store.put_specs([task.spec.to_json() for task in tasks])
        arguments: dict[str, Any] = {
            "jobName": _NAME.sub("-", f"flowkit-{first.flow}-{first.step}")[:128],
            "jobQueue": options.queue,
            "jobDefinition": arn,
            "tags": {"flowkit:run": f"{first.flow}/{first.run_id}", "flowkit:step": first.step},
        }
        if len(tasks) >= MIN_ARRAY:
            listed = self._store.put_task_list(keys)
            pick = ["--index-from", "AWS_BATCH_JOB_ARRAY_INDEX"]
            module = [WORKER_MODULE, "--quiet", *pick, self._store.url, listed]
            arguments["arrayProperties"] = {"size": len(tasks)}
        else:
            module = [WORKER_MODULE, "--quiet", self._store.url, keys[0]]
        arguments["containerOverrides"] = {"command": options.command(module)}
        job = self._batch.submit(**arguments)
        for index, task in enumerate(tasks):
            job_id = f"{job}:{index}" if len(tasks) >= MIN_ARRAY else job
            self._jobs[task.key] = _Job(task.key, job_id, job)
            self._watch.add(task.key, task.spec)
        self._interval = POLL_MIN

    # -- learning what happened ---------------------------------------------------------------
    def _look_in_store(self) -> None:
        for message in self._watch.look():
            self._news.append(message)
            if message.key in self._jobs and message.key not in self._watch:
                del self._jobs[message.key]

    def _ask_batch(self) -> None:
        """``DescribeJobs`` of the parents, then of the children of arrays that may have
        lost one: which started, and which ended without a record."""
        try:
            parents = self._batch.describe({job.parent for job in self._jobs.values()})
            doubtful = {
                p for p in {j.parent for j in self._jobs.values()} if self._doubt(p, parents)
            }
            suspects = {  # children that may have died, and those already seen ended
                job.job_id
                for job in self._jobs.values()
                if job.job_id != job.parent and (job.parent in doubtful or job.ended_at is not None)
            }
            described = {**parents, **self._batch.describe(suspects)}
        except BatchError:
            # throttled past every retry, or unreachable: the store still says what ended
            self._interval = min(POLL_MAX, self._interval * 2)
            return
        changed = False
        now = time.monotonic()
        for job in list(self._jobs.values()):
            if self._watch.ending(job.key):
                continue  # its record is in: the store's look reports its end
            found = described.get(job.job_id)
            # a child of an array Batch cannot place inherits its parent's reason
            stuck = _misconfigured(found if found is not None else parents.get(job.parent))
            if stuck is None and job.job_id != job.parent and job.job_id not in suspects:
                continue  # a child of a healthy array: nothing to learn of it
            status = None if found is None else found.get("status")
            if stuck is not None:
                self._news += self._watch.drop(job.key, drain=False)
                self._news.append(
                    Failed(job.key, 1, f"AWS Batch cannot run job {job.job_id}: {stuck}")
                )
                self._to_cancel.discard(job.key)
                del self._jobs[job.key]
                self._stuck.add(job.parent)
                continue
            if status in _RUNNING:
                started = self._watch.start(job.key)
                changed |= bool(started)
                self._news += started
            if status is not None and status not in _ENDED:
                continue
            if job.ended_at is None:
                job.ended_at, changed = now, True
            record = self._watch.record(job.key)
            if record is not None and record.final:
                self._news += self._watch.recorded(job.key, record)
            elif now - job.ended_at >= (FAILED_GRACE if _ended_badly(found) else SUCCEEDED_GRACE):
                self._news += self._watch.drop(job.key)
                self._news.append(explain(job.key, job.job_id, found, record is not None))
                del self._jobs[job.key]
        self._interval = POLL_MIN if changed else min(POLL_MAX, self._interval * 1.5)
        if self._stuck:  # they would wait in the queue forever
            never, self._stuck = sorted(self._stuck), set()
            try:
                self._batch.terminate(never, "flowkit: the job can never run")
            except BatchError:
                self._stuck.update(never)

    def _doubt(self, parent: str, described: Mapping[str, Mapping[str, Any]]) -> bool:
        """Whether the children of array ``parent`` must be described one by one: it ended
        (or Batch forgot it), or more of its children failed than at the last look. A child
        that succeeded wrote its record, which the store shows sooner than Batch."""
        found = described.get(parent)
        if found is None or found.get("status") in _ENDED:
            return True
        summary = (found.get("arrayProperties") or {}).get("statusSummary") or {}
        failed = int(summary.get("FAILED", 0))
        seen, self._failed[parent] = self._failed.get(parent, 0), failed
        return failed > seen

    # -- cancelling ---------------------------------------------------------------------------
    def _cancel_asked(self) -> None:
        """``TerminateJob`` for every job asked to stop since the last; a whole array by its
        parent's id."""
        keys = [k for k in self._to_cancel if k in self._jobs]
        self._to_cancel.clear()
        if not keys:
            return
        doomed = {self._jobs[k].job_id for k in keys}
        ids = set()
        for key in keys:
            job = self._jobs[key]
            whole = all(j.job_id in doomed for j in self._jobs.values() if j.parent == job.parent)
            ids.add(job.parent if whole else job.job_id)
        try:
            self._batch.terminate(sorted(ids), "cancelled by flowkit")
        except BatchError:
            self._to_cancel.update(keys)  # Batch did not take it: ask again on the next poll
            return
        for key in keys:
            self._watch.drop(key, drain=False)
            self._news.append(Killed(key))
            del self._jobs[key]


def _ended_badly(job: Mapping[str, Any] | None) -> bool:
    """Whether Batch says the job failed or was ended (terminated, its instance reclaimed):
    then its record may never come, and the wait for it is short. A job Batch forgot
    counts."""
    if job is None or job.get("status") == "FAILED":
        return True
    reason = job.get("statusReason")
    return bool(reason) and reason != NORMAL_EXIT


def _misconfigured(job: Mapping[str, Any] | None) -> str | None:
    """Why a job Batch keeps RUNNABLE can never run (``MISCONFIGURATION:...``: a request
    no compute environment of its queue can meet), or None."""
    if job is None or job.get("status") != "RUNNABLE":
        return None
    reason = str(job.get("statusReason") or "")
    return reason if reason.startswith("MISCONFIGURATION") else None
