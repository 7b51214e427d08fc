"""Ids sort by creation time, are unique, and stay unique across a fork."""

from __future__ import annotations

import os
import time

from flowkit.store.ids import IdGenerator


def test_ids_sort_in_creation_order() -> None:
    gen = IdGenerator()
    ids = [gen.new() for _ in range(5000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == 5000
    assert all(len(i) == 26 and i.isalnum() and i == i.lower() for i in ids)


def test_later_ids_sort_after_earlier_ones_from_another_generator() -> None:
    early = IdGenerator().new()
    time.sleep(0.002)
    assert IdGenerator().new() > early


def test_forked_child_does_not_repeat_the_parent_sequence() -> None:
    gen = IdGenerator()
    gen.new()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: report ten ids and leave without running pytest's teardown
        os.write(write, " ".join(gen.new() for _ in range(10)).encode())
        os._exit(0)
    os.close(write)
    parent_ids = {gen.new() for _ in range(10)}
    os.waitpid(pid, 0)
    child_ids = set(os.read(read, 10_000).decode().split())
    os.close(read)
    assert len(child_ids) == 10 and not parent_ids & child_ids
