"""Dead letters: write-once records of tasks that exhausted their retries.

A letter holds what is needed to look at the failure and to run the task again: the task's
place (flow, run, step, task, last attempt), its exception and failure kind, the inputs it
received (``step/task/attempt`` in its run, whose records name the artifact blobs), the
whole task spec, and where its logs are. A retry adds a record of its own next to the
letter (``retry.<run_id>.json``); the letter itself is never changed.
"""

from __future__ import annotations

import json
import time
from typing import Any

from flowkit.fastdata import asdict, dataclass
from flowkit.store import layout
from flowkit.store.errors import KeyNotFoundError, NotFoundError, RecordExistsError, StoreError
from flowkit.store.records import SCHEMA, ExceptionInfo, TaskRecord
from flowkit.store.store import Store


@dataclass(frozen=True)
class DeadLetter:
    """One task that failed for good, with its inputs, exception and logs."""

    id: str
    flow: str
    run_id: str
    step: str
    task_id: str
    attempt: int
    created_at: float
    exception: ExceptionInfo | None
    failure: str | None
    #: ``step/task_id/attempt`` of each input task in the same run.
    inputs: tuple[str, ...]
    #: The failed attempt's :class:`~flowkit.task.spec.TaskSpec`, as JSON.
    spec: str
    #: The key prefix of the failed attempt's logs (``<prefix>/stdout.*``, ``stderr.*``).
    logs: str
    schema: int = SCHEMA

    @property
    def pathspec(self) -> str:
        return f"{self.flow}/{self.run_id}/{self.step}/{self.task_id}"


@dataclass(frozen=True)
class DeadLetterRetry:
    """A retry of a dead letter: the run that retried it and how that run ended."""

    letter_id: str
    run_id: str
    status: str
    finished_at: float


def write_letter(store: Store, record: TaskRecord, spec_json: str, inputs: tuple[str, ...]) -> str:
    """Record ``record`` (a final failed attempt) as a dead letter; its id."""
    letter = DeadLetter(
        id=store.records.new_task_id(),
        flow=record.flow,
        run_id=record.run_id,
        step=record.step,
        task_id=record.task_id,
        attempt=record.attempt,
        created_at=time.time(),
        exception=record.exception,
        failure=record.failure,
        inputs=inputs,
        spec=spec_json,
        logs=layout.log_prefix(
            record.flow, record.run_id, record.step, record.task_id, record.attempt
        ),
    )
    _put(store, layout.dead_letter_key(letter.id), asdict(letter))
    return letter.id


def list_letters(store: Store) -> list[DeadLetter]:
    """Every dead letter, oldest first (a letter whose write never completed is skipped)."""
    letters = []
    for letter_id in store.backend.list(layout.DEAD_LETTERS):
        try:
            letters.append(read_letter(store, letter_id))
        except NotFoundError:
            continue
    return letters


def read_letter(store: Store, letter_id: str) -> DeadLetter:
    key = layout.dead_letter_key(letter_id)
    try:
        data = json.loads(store.backend.get(key))
    except KeyNotFoundError:
        raise NotFoundError(
            f"dead letter {letter_id} is not in the store at {store.url}",
            f"list them with: flowkit dlq list --store {store.url}",
        ) from None
    except ValueError as exc:
        raise StoreError(f"{store.url}/{key} is not valid JSON: {exc}", "it was damaged") from None
    return letter_from_json(data, f"{store.url}/{key}")


def letter_from_json(data: Any, where: str) -> DeadLetter:
    try:
        exception = data.pop("exception")
        return DeadLetter(
            exception=None if exception is None else ExceptionInfo(**exception),
            inputs=tuple(data.pop("inputs")),
            **data,
        )
    except (TypeError, KeyError, AttributeError) as exc:
        raise StoreError(f"{where} is not a valid dead letter: {exc}", "it was damaged") from None


def record_retry(
    store: Store, letter_id: str, run_id: str, status: str, *, name: str | None = None
) -> DeadLetterRetry:
    """Record a retry of a letter in ``run_id``; ``name`` tells apart several retries that
    happened in one run (the task run again alone, attempt after attempt)."""
    retry = DeadLetterRetry(letter_id, run_id, status, time.time())
    _put(store, layout.dead_letter_retry_key(letter_id, name or run_id), asdict(retry))
    return retry


def retries_of(store: Store, letter_id: str) -> list[DeadLetterRetry]:
    """The retries of a letter, oldest first."""
    prefix = f"{layout.DEAD_LETTERS}/{letter_id}"
    found = []
    for name in store.backend.list(prefix):
        if name.startswith("retry."):
            data = json.loads(store.backend.get(f"{prefix}/{name}"))
            found.append(DeadLetterRetry(**data))
    return found


def _put(store: Store, key: str, data: dict[str, Any]) -> None:
    body = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    if not store.backend.put_new(key, body):
        raise RecordExistsError(f"record {key} already exists in {store.url}")
