"""A foreach's items: frozen once by the split task, loaded one at a time by its branches.

The split task iterates the foreach value exactly once, as ``list(value)`` would (a dict
gives its keys, a set the order of that one iteration, a generator is consumed), and stores
the items in chunks: small items share a blob, a big one has a blob of its own. Its record
names the chunks; each branch's path names its chunk and slot, so a branch loads only its
chunk, whichever process or machine runs it and however often the run is resumed.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import islice
from typing import TYPE_CHECKING, Any

from flowkit.authoring.flowspec import ForeachFrame
from flowkit.errors import FlowDefinitionError
from flowkit.runtime.plan import TOO_MANY_SPLITS_HINT, Branch, TooManySplits
from flowkit.store.serialize import to_frames

if TYPE_CHECKING:
    from flowkit.store import Store

#: A chunk closes at this many items or serialized bytes, so a branch reads little.
CHUNK_ITEMS = 256
CHUNK_BYTES = 64 << 10


def freeze(
    value: Any, attr: str, *, limit: int, step: str, where: tuple[str | None, int | None]
) -> list[Any]:
    """The items of ``value`` in the one order every branch will see; at most ``limit``."""
    file, line = where
    try:
        iterator = iter(value)
    except TypeError:
        raise FlowDefinitionError(
            f"foreach='{attr}' holds a value of type {type(value).__name__}, which cannot be iterated",
            f"make self.{attr} a list (or any iterable) of the items to fan out over",
            step=step,
            file=file,
            line=line,
        ) from None
    items = list(islice(iterator, limit + 1))
    if not items:
        raise FlowDefinitionError(
            f"fans out over '{attr}', which is empty",
            f"give self.{attr} at least one item, or route around the foreach",
            step=step,
            file=file,
            line=line,
        )
    if len(items) > limit:
        raise TooManySplits(
            f"foreach='{attr}' has more than {limit} items, the --max-num-splits limit",
            TOO_MANY_SPLITS_HINT,
            step=step,
            file=file,
            line=line,
        )
    return items


def store_items(
    store: Store, items: Sequence[Any], attr: str, *, step: str
) -> tuple[tuple[str, int], ...]:
    """Store ``items`` in chunks; ``[blob digest, item count]`` of each, in order."""
    return tuple(
        (store.put_value(chunk, name=f"{attr} (foreach items)", step=step).digest, len(chunk))
        for chunk in _chunks(items, attr, step)
    )


def _chunks(items: Sequence[Any], attr: str, step: str) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    size = 0
    for index, item in enumerate(items):
        item_size = to_frames(item, name=f"{attr}[{index}]", step=step).size
        if chunk and (len(chunk) >= CHUNK_ITEMS or size + item_size > CHUNK_BYTES):
            yield chunk
            chunk, size = [], 0
        chunk.append(item)
        size += item_size
    if chunk:
        yield chunk


class ForeachFrames(Sequence[ForeachFrame]):
    """The foreach frames of a task's path, each item loaded from its chunk on first use."""

    def __init__(self, store: Store, flow: str, run_id: str, path: Sequence[Branch]) -> None:
        self._store, self._flow, self._run_id = store, flow, run_id
        self._branches = [b for b in path if b.kind == "foreach"]
        self._loaded: dict[int, ForeachFrame] = {}

    def __len__(self) -> int:
        return len(self._branches)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self[i] for i in range(len(self))[index]]
        position = range(len(self))[index]
        if position not in self._loaded:
            branch = self._branches[position]
            self._loaded[position] = ForeachFrame(
                branch.split_step, branch.index, branch.count, self._item(branch)
            )
        return self._loaded[position]

    def _item(self, branch: Branch) -> Any:
        split = f"{self._flow}/{self._run_id}/{branch.split_step}/{branch.split_task}"
        if branch.item is None:
            raise FlowDefinitionError(
                f"the foreach items of task {split} were not frozen when it ran (it was "
                "recorded by an older flowkit)",
                f"resume from step '{branch.split_step}' so that it runs again",
                step=branch.split_step,
            )
        digest, slot = branch.item
        chunk = self._store.load_value(digest, owner=f"foreach item {branch.index} of {split}")
        return chunk[slot]
