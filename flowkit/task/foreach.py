"""A foreach's items: frozen once by the split task, loaded one at a time by its branches.

The split task iterates the foreach value exactly once, as ``list(value)`` would (a dict
gives its keys, a set the order of that one iteration, a generator is consumed), and stores
the items in chunks: small items share a blob, a big one has a blob of its own. Its record
names the chunks; each branch's path names its chunk and slot, so a branch loads only its
chunk, whichever process or machine runs it and however often the run is resumed. A big
item is pickled once: the frames that measured it are what its chunk stores. A join's inputs
share the chunks they load (:class:`ChunkCache`), so each is read and verified once.
"""

from __future__ import annotations

import pickle
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from itertools import islice
from typing import TYPE_CHECKING, Any

from flowkit.authoring.flowspec import ForeachFrame
from flowkit.errors import FlowDefinitionError
from flowkit.plan.tasks import TOO_MANY_SPLITS_HINT, Branch, TooManySplits
from flowkit.store.serialize import Frames, to_frames

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
    stored = []
    for chunk in _chunks(items, attr, step):
        if len(chunk) == 1:  # often a big item: stored as it was measured, not pickled again
            frames = _alone(chunk[0][1])
        else:  # small items: pickling them again together is quick, and more compact
            frames = to_frames([i for i, _ in chunk], name=f"{attr} (foreach items)", step=step)
        stored.append((store.values.put_frames(frames), len(chunk)))
    return tuple(stored)


def _chunks(items: Sequence[Any], attr: str, step: str) -> Iterator[list[tuple[Any, Frames]]]:
    """The items with their frames, grouped into chunks by the size of those frames."""
    chunk: list[tuple[Any, Frames]] = []
    size = 0
    for index, item in enumerate(items):
        frames = to_frames(item, name=f"{attr}[{index}]", step=step)
        if chunk and (len(chunk) >= CHUNK_ITEMS or size + frames.size > CHUNK_BYTES):
            yield chunk
            chunk, size = [], 0
        chunk.append((item, frames))
        size += frames.size
    if chunk:
        yield chunk


class _Alone:
    """Pickles as a call that unpickles one item from its own frames (its stream and its
    buffers, all out of band) into a list: a chunk of one item, written from the frames that
    measured the item, so a big item is pickled once; loading it gives ``[item]``."""

    def __init__(self, item: Frames) -> None:
        self.item = item

    def __reduce__(self) -> tuple[Any, ...]:
        return _unpickle_alone, tuple(pickle.PickleBuffer(s) for s in self.item.segments)


def _alone(item: Frames) -> Frames:
    buffers: list[pickle.PickleBuffer] = []
    head = pickle.dumps(_Alone(item), protocol=5, buffer_callback=buffers.append)
    return Frames([head, *(b.raw() for b in buffers)], cloudpickled=item.cloudpickled)


# Stored chunks name this function (flowkit.task.foreach._unpickle_alone) in their pickle
# stream: it is part of the store's format, so it keeps this name and place.
def _unpickle_alone(stream: Any, *buffers: Any) -> list[Any]:
    return [pickle.loads(stream, buffers=buffers)]


class ChunkCache:
    """The chunks a task has loaded, by digest, so that a join whose inputs share a chunk
    loads and verifies it once; the ``size`` most recently used are kept."""

    def __init__(self, store: Store, size: int = 64) -> None:
        self.store, self.size = store, size
        self._chunks: OrderedDict[str, list[Any]] = OrderedDict()

    def get(self, digest: str, owner: str) -> list[Any]:
        chunk = self._chunks.get(digest)
        if chunk is None:
            chunk = self.store.values.load(digest, owner=owner)
            self._chunks[digest] = chunk
            if len(self._chunks) > self.size:
                self._chunks.popitem(last=False)
        else:
            self._chunks.move_to_end(digest)
        return chunk


class ForeachFrames(Sequence[ForeachFrame]):
    """The foreach frames of a task's path, each item loaded from its chunk on first use
    (through ``chunks``, which a join's inputs share)."""

    def __init__(
        self,
        store: Store,
        flow: str,
        run_id: str,
        path: Sequence[Branch],
        chunks: ChunkCache | None = None,
    ) -> None:
        self._flow, self._run_id = flow, run_id
        self._chunks = ChunkCache(store, size=1) if chunks is None else chunks
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
        return self._chunks.get(digest, f"foreach item {branch.index} of {split}")[slot]
