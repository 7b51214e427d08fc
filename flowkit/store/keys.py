"""Validation of names, keys and pathspecs, so nothing a user types can leave the store root."""

from __future__ import annotations

import re

from flowkit.fastdata import dataclass
from flowkit.store.errors import BadPathspecError, InvalidKeyError

#: A flow, run, step or task name: no separators, no dots, nothing a file system interprets.
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,127}")
#: One component of a backend key: names as above, plus dots inside (``t1.0.json``).
_COMPONENT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,199}")


def is_name(value: object) -> bool:
    """Whether ``value`` is a safe flow/run/step/task name: the one rule lint checks too."""
    return isinstance(value, str) and _NAME.fullmatch(value) is not None


def name_rule(kind: str) -> str:
    """The rule :func:`is_name` checks, worded for a ``kind`` of name."""
    return (
        f"{'an' if kind[:1] in 'aeiou' else 'a'} {kind} name is 1-128 ASCII letters, digits, '_' or '-', and starts with a letter, "
        "digit or '_' (no '/', '.', spaces or other characters)"
    )


def check_name(kind: str, value: object) -> str:
    """``value`` if it is a safe flow/run/step/task name, else :class:`InvalidKeyError`."""
    if is_name(value):
        return str(value)
    raise InvalidKeyError(f"invalid {kind} name {value!r}", name_rule(kind))


def check_key(key: object) -> str:
    """``key`` if every '/'-separated component is safe, else :class:`InvalidKeyError`.

    Rejects absolute paths, empty components, '.', '..', backslashes, NUL and leading dots
    (dot-names are reserved for a backend's own temporary files).
    """
    parts = key.split("/") if isinstance(key, str) else [""]
    if isinstance(key, str) and ".." not in key and all(_COMPONENT.fullmatch(p) for p in parts):
        return key
    raise InvalidKeyError(
        f"invalid store key {key!r}",
        "keys are '/'-separated names of letters, digits, '_', '-' and inner '.'; "
        "they can never be absolute or contain '..'",
    )


@dataclass(frozen=True)
class Pathspec:
    """``Flow[/run[/step[/task]]]``, each part validated."""

    flow: str
    run_id: str | None = None
    step: str | None = None
    task_id: str | None = None

    def __str__(self) -> str:
        parts = [self.flow, self.run_id, self.step, self.task_id]
        return "/".join(p for p in parts if p is not None)

    @property
    def depth(self) -> int:
        """1 for a flow, 2 for a run, 3 for a step, 4 for a task."""
        return 1 + sum(p is not None for p in (self.run_id, self.step, self.task_id))


_KINDS = ("flow", "run", "step", "task")


def parse_pathspec(text: str, *, depth: int | None = None) -> Pathspec:
    """Parse ``text``; with ``depth`` (1-4) it must name exactly a flow/run/step/task."""
    example = "TrainFlow/01j2xk8q5v3m4n6p7r8s9t0abc/train/01j2xk8q7c..."
    parts = text.split("/") if isinstance(text, str) else []
    if not 1 <= len(parts) <= 4 or (depth is not None and len(parts) != depth):
        want = f"a {_KINDS[depth - 1]} pathspec" if depth else "a pathspec"
        shape = "/".join(("Flow", "RunId", "step", "TaskId")[: depth or 4])
        raise BadPathspecError(
            f"{text!r} is not {want}",
            f"write it as {shape} (for example {'/'.join(example.split('/')[: depth or 4])})",
        )
    try:
        names = [check_name(kind, part) for kind, part in zip(_KINDS, parts, strict=False)]
    except InvalidKeyError as exc:
        raise BadPathspecError(f"bad pathspec {text!r}: {exc.message}", exc.hint) from None
    names += [None] * (4 - len(names))  # type: ignore[list-item]
    return Pathspec(names[0], names[1], names[2], names[3])
