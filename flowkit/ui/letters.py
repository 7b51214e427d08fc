"""A dead letter as the UI lists it (the DeadLetterRow of docs/ui.md): the dead-letter page
and a run's page share this one row."""

from __future__ import annotations

from typing import Any

from flowkit.store import Store
from flowkit.store.deadletters import DeadLetter, list_letters, retries_of
from flowkit.store.records import ExceptionInfo
from flowkit.ui.common import page_url


def exception_json(exc: ExceptionInfo | None) -> dict[str, Any] | None:
    """An attempt's exception as the API answers it (docs/ui.md, *Exception*); an older
    record without a qualified type gives its type there."""
    if exc is None:
        return None
    return {
        "type": exc.type,
        "qualified_type": exc.qualified_type or exc.type,
        "message": exc.message,
        "traceback": exc.traceback,
    }


def dead_letter_row(store: Store, letter: DeadLetter) -> dict[str, Any]:
    """One letter with the runs that retried it (one listing of the letter's retries)."""
    return {
        "id": letter.id,
        "flow": letter.flow,
        "run_id": letter.run_id,
        "step": letter.step,
        "task_id": letter.task_id,
        "attempt": letter.attempt,
        "pathspec": letter.pathspec,
        "url": page_url(letter.flow, letter.run_id, letter.step, letter.task_id),
        "run_url": page_url(letter.flow, letter.run_id),
        "created_at": letter.created_at,
        "failure": letter.failure,
        "exception": exception_json(letter.exception),
        "retries": [
            {
                "run_id": retry.run_id,
                "url": page_url(letter.flow, retry.run_id),
                "status": retry.status,
                "finished_at": retry.finished_at,
            }
            for retry in retries_of(store, letter.id)
        ],
    }


def run_letters(store: Store, flow: str, run_id: str) -> list[DeadLetter]:
    """The dead letters of one run, oldest first."""
    return [x for x in list_letters(store) if x.flow == flow and x.run_id == run_id]
