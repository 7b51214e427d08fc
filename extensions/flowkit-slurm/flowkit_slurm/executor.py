"""The ``slurm`` executor: each task a Slurm job, each foreach one job array.

It submits and detaches: no process waits on a job. What happened is learnt from the store
first, where each task's worker writes its own records (one listing per step, see
``Records.attempt_marks``), and from Slurm only to notice a job that ended without its
final record: one ``squeue`` for all of the run's jobs every :data:`SQUEUE_EVERY` seconds.
Such a job is *lost* when its node failed (or Slurm forgot it), and *failed* otherwise, with
what its output file says (a bad interpreter path, a setup line that failed) as the task's
error. Jobs are submitted with ``--no-requeue``: flowkit retries a lost task as a new
attempt, so a requeued job can never run an attempt twice.

Dependencies between steps stay with flowkit's scheduler, so retries, ``@catch``, resume
and reuse behave exactly as locally; ``--max-workers``, when given, throttles each array
(``--array=0-199%8``: a bound per array, not per run); otherwise the cluster's queue decides.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
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
    Succeeded,
)
from flowkit.executor.watch import StoreWatch
from flowkit_slurm.commands import JobState, Slurm, SlurmError
from flowkit_slurm.options import OptionError, SlurmOptions
from flowkit_slurm.reasons import explain
from flowkit_slurm.script import batch_script

#: Seconds between looks at the store for tasks that started or ended (a remote store: more).
STORE_EVERY, REMOTE_STORE_EVERY = 0.25, 1.0
#: Seconds between ``squeue`` calls.
SQUEUE_EVERY = 2.0
#: Seconds between reads of the running tasks' logs, to echo them (a remote store: more,
#: as it is a listing per task).
ECHO_EVERY, REMOTE_ECHO_EVERY = 1.0, 5.0
#: How long a job Slurm says ended may take to show its final record (a shared file
#: system's caches) before it counts as ended without one. Short, since a record that
#: shows up later still wins: the scheduler's write for the task finds it and keeps it.
RECORD_GRACE = 2.0
#: ``sbatch`` tries for one job before its tasks fail, with backoff (a busy controller, a
#: submission limit reached: both pass).
SUBMIT_TRIES = 6


@dataclass
class _Job:
    """One submitted task attempt: its job (``12``) or array element (``12_3``)."""

    key: str
    job_id: str
    output: Path
    #: What squeue last said of it once it ended (None: it no longer knows the job).
    last_state: JobState | None = None
    #: When Slurm first said it ended while the store had no final record (monotonic).
    ended_at: float | None = None

    @property
    def array_id(self) -> str:
        return self.job_id.split("_")[0]


@dataclass
class _Batch:
    """One ``sbatch`` to make: tasks of one step and attempt that ask for the same."""

    tasks: list[Submission]
    options: SlurmOptions
    args: list[str]
    tries: int = 0
    not_before: float = 0.0


class SlurmExecutor:
    """Runs tasks as Slurm jobs (``@slurm(...)``, ``--with slurm``)."""

    def __init__(self, context: ExecutorContext) -> None:
        self._store = context.store
        self._limit = context.max_workers if context.max_workers_chosen else None
        self._slurm = Slurm()
        self._slurm.require()
        self._jobs: dict[str, _Job] = {}
        self._batches: list[_Batch] = []
        self._news: list[Message] = []
        self._to_cancel: set[str] = set()
        self._refusals: dict[tuple[str, ...], str | None] = {}
        self._folders: set[Path] = set()
        self._max_array: int | None = None  # the cluster's MaxArraySize, asked when needed
        remote = context.store.remote
        self._store_every = REMOTE_STORE_EVERY if remote else STORE_EVERY
        self._echo_every = (REMOTE_ECHO_EVERY if remote else ECHO_EVERY) if context.echo else None
        self._watch = StoreWatch(context.store, echo=context.echo)
        self._next_store = self._next_squeue = self._next_echo = 0.0

    # -- the executor interface ---------------------------------------------------------------
    def check(self, request: Request) -> str | None:
        try:
            options = SlurmOptions.of(request.options)
            args = options.sbatch_args(request)
        except OptionError as exc:
            return str(exc)
        try:
            _folder(options.output_folder())
        except SlurmError as exc:
            return exc.message
        key = tuple(args)
        if key not in self._refusals:
            self._refusals[key] = self._slurm.refusal(args)
        why = self._refusals[key]
        return None if why is None else f"sbatch refuses its job ({' '.join(args)}): {why}"

    def submit(self, tasks: Sequence[Submission]) -> None:
        groups: dict[tuple[Any, ...], list[Submission]] = {}
        for task in tasks:
            options = SlurmOptions.of(task.request.options)
            args = options.sbatch_args(task.request)
            spec = task.spec
            group = (spec.flow, spec.run_id, spec.step, spec.attempt, options, tuple(args))
            groups.setdefault(group, []).append(task)
        for (*_, options, args), group_tasks in groups.items():
            if len(group_tasks) > 1 and self._max_array is None:
                self._max_array = self._slurm.max_array_size()
            size = min(self._max_array or 1, len(group_tasks)) if len(group_tasks) > 1 else 1
            for start in range(0, len(group_tasks), size):  # arrays no bigger than allowed
                self._batches.append(_Batch(group_tasks[start : start + size], options, list(args)))
        self._submit_due()

    def poll(self, timeout: float) -> list[Message]:
        deadline = time.monotonic() + timeout
        while True:
            self._cancel_asked()
            self._submit_due()
            now = time.monotonic()
            if now >= self._next_store:
                self._look_in_store()
                self._next_store = time.monotonic() + self._store_every
            if self._echo_every is not None and now >= self._next_echo:
                self._news += self._watch.outputs()
                self._next_echo = time.monotonic() + self._echo_every
            if now >= self._next_squeue and self._jobs:
                self._ask_slurm()
                self._next_squeue = time.monotonic() + SQUEUE_EVERY
            now = time.monotonic()
            if self._news or now >= deadline:
                news, self._news = self._news, []
                return news
            due = [deadline, self._next_store, *(b.not_before for b in self._batches)]
            if self._jobs:
                due.append(self._next_squeue)
            time.sleep(max(0.0, min(due) - now))

    def cancel(self, key: str) -> None:
        for batch in self._batches:
            for task in batch.tasks:
                if task.key == key:  # not submitted yet: nothing to stop
                    batch.tasks.remove(task)
                    self._news.append(Killed(key))
                    return
        if key in self._jobs:
            self._to_cancel.add(key)

    def close(self) -> None:
        self._batches.clear()
        self._to_cancel |= set(self._jobs)
        self._cancel_asked()
        for folder in self._folders:
            with contextlib.suppress(OSError):  # not empty: a failed job's output stays
                folder.rmdir()

    @classmethod
    def detach(cls, context: ExecutorContext, key: str, options: Mapping[str, Any]) -> str:
        """Submit a run's scheduler (``python -m flowkit.driver STORE KEY``) as a small job of
        its own, with the ``--with slurm:...`` options; see :mod:`flowkit.runtime.detach`."""
        opts = SlurmOptions.of(options)
        folder = _folder(opts.output_folder() / "schedulers")
        args = [*opts.scheduler_args(), "--cpus-per-task=1", f"--output={folder}/%j.out"]
        args.append("--no-requeue")
        store = opts.store or context.store.url
        script = batch_script(opts.python, opts.setup, [DRIVER_MODULE, store, key])
        slurm = Slurm()
        slurm.require()
        job = slurm.submit(args, script, name="flowkit-scheduler")
        return f"Slurm job {job} (its output: {folder}/{job}.out)"

    # -- submitting ---------------------------------------------------------------------------
    def _submit_due(self) -> None:
        now = time.monotonic()
        for batch in list(self._batches):
            if batch.not_before > now:
                continue
            if batch.tasks:
                try:
                    self._sbatch(batch)
                except SlurmError as exc:
                    batch.tries += 1
                    if batch.tries < SUBMIT_TRIES:
                        batch.not_before = now + min(30.0, 2.0**batch.tries)
                        continue
                    reason = f"Slurm took no job for it in {batch.tries} tries: {exc.message}"
                    self._news += [Failed(t.key, 1, reason) for t in batch.tasks]
            self._batches.remove(batch)

    def _sbatch(self, batch: _Batch) -> None:
        tasks, options = batch.tasks, batch.options
        first = tasks[0].spec
        keys = self._store.put_specs([task.spec.to_json() for task in tasks])
        folder = _folder(options.output_folder() / first.flow / first.run_id)
        self._folders.add(folder)
        title = f"{first.flow}/{first.run_id}/{first.step}"
        args = [*batch.args, "--no-requeue"]
        if len(tasks) > 1:
            throttle = f"%{self._limit}" if self._limit and self._limit < len(tasks) else ""
            args += [f"--array=0-{len(tasks) - 1}{throttle}", f"--output={folder}/%A_%a.out"]
        else:
            args.append(f"--output={folder}/%j.out")
        module = [WORKER_MODULE, "--quiet", options.store or self._store.url]
        script = batch_script(options.python, options.setup, module, keys, title=title)
        job = self._slurm.submit(args, script, name=f"flowkit:{title}")
        for index, task in enumerate(tasks):
            job_id = f"{job}_{index}" if len(tasks) > 1 else job
            self._jobs[task.key] = _Job(task.key, job_id, folder / f"{job_id}.out")
            self._watch.add(task.key, task.spec)

    # -- learning what happened ---------------------------------------------------------------
    def _look_in_store(self) -> None:
        """Which jobs started and ended, by their records (see :class:`StoreWatch`)."""
        for message in self._watch.look():
            self._news.append(message)
            if isinstance(message, Succeeded | Failed):
                self._ended(self._jobs.pop(message.key), successful=message.status == 0)

    def _ask_slurm(self) -> None:
        """One ``squeue`` for every job: which started, and which ended without a record."""
        states = self._slurm.states(job.array_id for job in self._jobs.values())
        if states is None:
            return  # no answer this time: the store still says what ended
        now = time.monotonic()
        for job in list(self._jobs.values()):
            if self._watch.ending(job.key):
                continue  # its record is in: the store's look reports its end
            state = states.get(job.job_id)
            if state is not None and not state.ended:
                if state.started:
                    self._news += self._watch.start(job.key)
                continue
            job.last_state = state
            if job.ended_at is None:
                job.ended_at = now
            record = self._watch.record(job.key)
            if record is not None and record.final:
                self._news += self._watch.recorded(job.key, record)
            elif now - job.ended_at >= RECORD_GRACE:
                # Slurm says it ended (or forgot it), and no final record came: say why
                self._news += self._watch.drop(job.key)
                began = record is not None
                self._news.append(explain(job.key, job.job_id, state, job.output, began))
                del self._jobs[job.key]

    @staticmethod
    def _ended(job: _Job, *, successful: bool) -> None:
        if successful:  # a failed job's output stays for whoever looks into it
            with contextlib.suppress(OSError):
                job.output.unlink()

    # -- cancelling ---------------------------------------------------------------------------
    def _cancel_asked(self) -> None:
        """One ``scancel`` for every job asked to stop since the last; a whole array by its
        id."""
        keys = [k for k in self._to_cancel if k in self._jobs]
        if not keys:
            self._to_cancel.clear()
            return
        unseen = [self._jobs[k] for k in keys if not self._watch.started(k)]
        if unseen:  # a job may have started since the last squeue: its task ran, say so
            states = self._slurm.states(job.array_id for job in unseen)
            if states is None:
                return  # no answer: scancel would get none either; ask again on the next poll
            for job in unseen:
                if (state := states.get(job.job_id)) is not None and state.running:
                    self._news += self._watch.start(job.key)
        doomed = {self._jobs[k].job_id for k in keys}
        ids = set()
        for job_id in doomed:
            array = job_id.split("_")[0]
            whole = all(j.job_id in doomed for j in self._jobs.values() if j.array_id == array)
            ids.add(array if whole else job_id)
        if not self._slurm.cancel(ids):
            return  # the controller did not answer: ask again on the next poll
        for key in keys:
            self._watch.drop(key, drain=False)
            self._news.append(Killed(key))
            del self._jobs[key]
        self._to_cancel.clear()


def _folder(path: Path) -> Path:
    """``path``, made if missing; a :class:`SlurmError` naming it if it cannot be."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SlurmError(
            f"Slurm's output files cannot go to {path}: {exc.strerror or exc}",
            "give @slurm(output_dir=...) (or --with slurm:output_dir=...) a folder you can "
            "write, on a file system the nodes share",
        ) from None
    return path
