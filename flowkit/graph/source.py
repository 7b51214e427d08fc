"""Finding a flow's source without running it: files, notebook cells and ``exec``'d code.

A step function knows the file name it was compiled from and its first line; the text comes
from :mod:`linecache`, which holds real files as well as the cells Jupyter registers there.
No temporary file is ever written.
"""

from __future__ import annotations

import ast
import hashlib
import linecache
import sys
import threading
from functools import lru_cache
from types import CodeType, FunctionType
from typing import Any


class SourceUnavailable(Exception):
    """The source of a step could not be found; the message says why."""


def source_lines(filename: str, module_globals: dict[str, Any] | None = None) -> list[str]:
    """The lines of ``filename`` now, from its file or the line cache.

    A file edited since it was cached is read again (cells Jupyter registered have no
    modification time, so ``checkcache`` keeps them).
    """
    linecache.checkcache(filename)
    return linecache.getlines(filename, module_globals)


#: CPython 3.11 keeps ``ast.parse``'s recursion depth in state all threads share: two
#: threads parsing at once can fail with "SystemError: AST constructor recursion depth
#: mismatch" (python/cpython#106905), e.g. two runs started from threads. flowkit's own
#: parses take turns.
_PARSING = threading.Lock()


def parse_python(source: str | bytes, filename: str = "<unknown>") -> ast.Module:
    """``ast.parse(source)``, safe to call from several threads at once."""
    with _PARSING:
        return ast.parse(source, filename=filename)


@lru_cache(maxsize=64)
def _parse(text_hash: str, text: str, filename: str) -> ast.Module:
    return parse_python(text, filename)


def parse_file(filename: str, module_globals: dict[str, Any] | None = None) -> ast.Module:
    """The syntax tree of ``filename``'s current text (cached by content)."""
    lines = source_lines(filename, module_globals)
    if not lines:
        raise SourceUnavailable(f"the source of {display_name(filename)} is not available")
    text = "".join(lines)
    digest = hashlib.sha256(text.encode()).hexdigest()
    return _parse(digest, text, filename)


def function_node(func: FunctionType) -> ast.FunctionDef | ast.AsyncFunctionDef:
    """The ``def`` of ``func`` in its source, matched by name and first line."""
    code = func.__code__
    try:
        tree = parse_file(code.co_filename, func.__globals__)
    except SyntaxError as exc:
        raise SourceUnavailable(
            f"the source of step '{func.__name__}' in {display_name(code.co_filename)} "
            f"no longer parses ({exc.msg}, line {exc.lineno})"
        ) from None
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == func.__name__:
            first = node.decorator_list[0].lineno if node.decorator_list else node.lineno
            if first == code.co_firstlineno:
                return node
    raise SourceUnavailable(
        f"the source of step '{func.__name__}' in {display_name(code.co_filename)} "
        f"has changed since it was defined (no 'def {func.__name__}' at line "
        f"{code.co_firstlineno})"
    )


#: The instructions that read a name from a function's globals (``LOAD_NAME``: in a class
#: body nested in a function, or module code).
_GLOBAL_LOADS = frozenset({"LOAD_GLOBAL", "LOAD_NAME"})


@lru_cache(maxsize=1024)
def global_names(code: CodeType) -> tuple[str, ...]:
    """The global names ``code`` reads, its nested functions', classes' and comprehensions'
    too (as cloudpickle finds them). Not ``co_names``, which also holds every attribute name:
    ``"abc".upper()`` does not read a global ``upper``. Kept per code object (they are
    immutable): a graph's steps read the same helpers, each disassembled once."""
    import dis  # here: a worker imports this module to load a flow, which never needs dis

    names = [i.argval for i in dis.get_instructions(code) if i.opname in _GLOBAL_LOADS]
    for const in code.co_consts:
        if isinstance(const, CodeType):
            names += global_names(const)
    return tuple(names)


def class_node(tree: ast.Module, name: str, inner_line: int) -> ast.ClassDef | None:
    """The ``class name`` in ``tree`` whose body spans ``inner_line``, if any."""
    best = None
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.ClassDef)
            and node.name == name
            and node.lineno <= inner_line <= (node.end_lineno or node.lineno)
        ):
            best = node
    return best


#: Names given by :func:`register_sources` (a worker learns its kernel's cell names there).
_NAMES: dict[str, str] = {}


def register_sources(sources: dict[str, tuple[str, list[str]]]) -> None:
    """Make ``filename -> (display name, lines)`` readable here, as it was where the code was
    written (a notebook's cells, for a worker that runs the notebook's flow)."""
    for filename, (name, lines) in sources.items():
        linecache.cache[filename] = (sum(map(len, lines)), None, list(lines), filename)
        _NAMES[filename] = name


def display_name(filename: str) -> str:
    """How a source file is named to a user: ``Cell In[3]`` for a Jupyter cell."""
    if filename in _NAMES:
        return _NAMES[filename]
    ipython = sys.modules.get("IPython")
    get = getattr(ipython, "get_ipython", None)
    shell = get() if callable(get) else None
    mapping = getattr(getattr(shell, "compile", None), "_filename_map", None)
    if isinstance(mapping, dict) and filename in mapping:
        return f"Cell In[{mapping[filename]}]"
    return filename
