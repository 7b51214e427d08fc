"""The compiled code of ``flowkit.fastdata`` classes is kept in a per-user cache: a process
loads what an earlier one compiled, and a class that changed never gets another's code."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: A module defining one class whose fields come from the environment (so one module can be
#: two different classes), then a line saying how many sources were compiled and how the
#: class behaves.
_PROGRAM = textwrap.dedent(
    """
    import os, sys, types
    from flowkit import fastdata

    compiled = []
    real = compile
    def counting(source, *args):
        compiled.append(source)
        return real(source, *args)
    fastdata.compile = counting

    module = types.ModuleType("fdcache_probe")
    sys.modules["fdcache_probe"] = module
    names = os.environ["FIELDS"].split(",")
    body = "".join(f"    {n}: int = {i}\\n" for i, n in enumerate(names))
    exec(
        "from flowkit.fastdata import dataclass\\n"
        "@dataclass(frozen=True)\\n"
        "class Point:\\n" + body,
        module.__dict__,
    )
    point = module.Point(*range(10, 10 + len(names)))
    print(len(compiled), repr(point), hash(point) == hash(module.Point(*range(10, 10 + len(names)))))
    """
)


def _run(cache: Path | str, fields: str, *, cwd: Path = ROOT, **env: str) -> tuple[int, str]:
    done = subprocess.run(
        [sys.executable, "-c", _PROGRAM],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
        env={
            **{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
            "PYTHONPATH": str(ROOT),
            "XDG_CACHE_HOME": str(cache),
            "FIELDS": fields,
            **env,
        },
    )
    count, rest = done.stdout.strip().split(" ", 1)
    return int(count), rest


def _file(cache: Path) -> Path:
    name = f"fdcache_probe.{sys.implementation.cache_tag}-{sys.hexversion:x}"
    return cache / "flowkit" / "fastdata" / name


def test_a_second_process_loads_the_code_the_first_compiled(tmp_path: Path) -> None:
    first = _run(tmp_path, "x,y")
    assert first == (1, "Point(x=10, y=11) True")
    assert _file(tmp_path).is_file()
    assert _run(tmp_path, "x,y") == (0, "Point(x=10, y=11) True")


def test_a_changed_class_is_compiled_again_never_given_the_old_code(tmp_path: Path) -> None:
    assert _run(tmp_path, "x,y")[0] == 1
    assert _run(tmp_path, "x,y,z") == (1, "Point(x=10, y=11, z=12) True")
    assert _run(tmp_path, "x,y,z")[0] == 0
    # the file holds what the last writer defined: the old class compiles again, correctly
    assert _run(tmp_path, "x,y") == (1, "Point(x=10, y=11) True")


def test_a_damaged_cache_file_is_compiled_around_and_written_anew(tmp_path: Path) -> None:
    _run(tmp_path, "x,y")
    for damage in (b"", b"not marshal data", b"\xe3" * 40):
        _file(tmp_path).write_bytes(damage)
        assert _run(tmp_path, "x,y") == (1, "Point(x=10, y=11) True")
        assert _run(tmp_path, "x,y")[0] == 0


def test_nothing_is_written_where_python_writes_no_bytecode(tmp_path: Path) -> None:
    assert _run(tmp_path, "x", PYTHONDONTWRITEBYTECODE="1")[0] == 1
    assert not _file(tmp_path).exists()


def test_a_cache_that_cannot_be_written_costs_only_the_compile(tmp_path: Path) -> None:
    blocker = tmp_path / "flowkit"
    blocker.write_text("a file where the cache folder would be")
    assert _run(tmp_path, "x") == (1, "Point(x=10) True")
    assert _run(tmp_path, "x")[0] == 1


def test_a_cache_another_user_could_write_is_never_read(tmp_path: Path) -> None:
    _run(tmp_path, "x,y")
    _file(tmp_path).chmod(0o666)  # its code would run in every flowkit process
    assert _run(tmp_path, "x,y")[0] == 1
    _file(tmp_path).chmod(0o644)
    _file(tmp_path).parent.chmod(0o777)  # anyone could put another file in its place
    assert _run(tmp_path, "x,y")[0] == 1
    _file(tmp_path).parent.chmod(0o700)
    assert _run(tmp_path, "x,y")[0] == 0


def test_a_relative_cache_folder_is_not_used(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    assert _run("relative-cache", "x", cwd=work)[0] == 1
    assert _run("relative-cache", "x", cwd=work)[0] == 1
    assert list(work.iterdir()) == []
