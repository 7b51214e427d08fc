"""The local store removes folders a delete leaves empty, and writers racing with that never
fail: a folder removed under a writer is made again."""

from __future__ import annotations

import threading
from pathlib import Path

from flowkit.store import LocalBackend


def test_deleting_the_last_object_removes_its_empty_folders(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path / "s", durable=False)
    backend.put("runs/F/r1/steps/a/t.0.json", [b"x"])
    backend.put("runs/F/r2/run.json", [b"y"])
    backend.delete("runs/F/r1/steps/a/t.0.json")
    assert not (tmp_path / "s" / "runs" / "F" / "r1").exists()
    assert backend.list("runs/F") == ["r2"]
    assert (tmp_path / "s").is_dir()  # never the root itself


def test_writers_racing_with_deletes_that_empty_their_folder_never_fail(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path / "s", durable=False)
    errors: list[BaseException] = []

    def churn(name: str) -> None:
        try:
            for n in range(300):
                key = f"shared/folder/{name}-{n}"
                if n % 2:
                    assert backend.put_new(key, b"x")
                else:
                    backend.put(key, [b"y"])
                assert backend.move(key, f"aside/{name}/{n}")
                backend.delete(f"aside/{name}/{n}")
        except BaseException as exc:  # reported below, with the thread's name
            errors.append(exc)

    threads = [threading.Thread(target=churn, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert backend.list("") == []
