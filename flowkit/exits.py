"""Ending a process flowkit owns without the interpreter's teardown.

A normal exit frees the objects of every module the process imported, one by one: 20-40 ms
of CPU for a command line that has run a flow, on its critical path, and most of a worker's
shutdown. Where nothing but that teardown is left to run, flowkit ends the process at once,
after what a normal exit does that anyone could observe: the functions registered to run at
exit run (``atexit``: logging's shutdown, ``weakref.finalize``, a coverage tool's save, the
flow's own) and stdout and stderr are flushed. The status is the one the interpreter would
have exited with.

A command line takes this path only where it is the whole program and the teardown would do
nothing anyone could see (:func:`leave_if_owned`): a script whose module code called
flowkit's entry point directly, with no ``try`` or ``with`` of its own around it (whose
``finally`` or ``__exit__`` would run as the exit unwinds), no other thread the interpreter
would wait for, no interactive prompt to drop into afterwards, and nothing in its own
modules' globals that the teardown would finalize: only modules, classes, functions and plain
values (an open file, a gzip or zip archive being written, a temporary file, an instance of
the flow's own classes: the interpreter's exit closes or finalizes them, so it gets to).
Anything else (IPython's ``%run``, ``pdb``, ``runpy``, a test calling the command) exits as
it always did.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
from collections.abc import Callable
from types import (
    BuiltinFunctionType,
    FrameType,
    FunctionType,
    MethodType,
    ModuleType,
)
from typing import NoReturn


def leave(code: int) -> NoReturn:
    """Exit with status ``code`` now: run what was registered to run at exit, flush stdout
    and stderr, and end the process without the interpreter's teardown."""
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        with contextlib.suppress(Exception):  # closed, or replaced by something odd
            if stream is not None:
                stream.flush()
    os._exit(code)


def run_as_program(main: Callable[[], object]) -> None:
    """Call ``main``, a command line that ends by raising ``SystemExit``, and exit as it
    asks: without the teardown if this process's exit is flowkit's to take, else by raising
    it again. Called from the frame of flowkit's entry point (a flow's ``FlowSpec()``, the
    console script's ``main``), which :func:`leave_if_owned` looks above."""
    entry = sys._getframe(1)
    try:
        main()
    except SystemExit as done:
        leave_if_owned(done, entry)
        raise


def leave_if_owned(done: SystemExit, entry: FrameType) -> None:
    """Exit as ``done`` asks, without the teardown, if this process's exit is flowkit's to
    take; return otherwise (the caller raises ``done`` again). ``entry``: the frame of
    flowkit's entry point (a flow's ``FlowSpec()``, the console script's ``main``)."""
    code = 0 if done.code is None else done.code
    if isinstance(code, int) and -(2**31) <= code < 2**31 and _owned(entry):
        leave(code)


def _owned(entry: FrameType) -> bool:
    """Whether the script's module code called ``entry`` directly, outside any ``try`` or
    ``with`` of its own, with no other non-daemon thread alive, no ``python -i``, and
    nothing in its modules' globals that the teardown would close or finalize."""
    outer = entry.f_back
    script = sys.modules.get("__main__")
    if outer is None or outer.f_back is not None or script is None:
        return False
    if outer.f_globals is not vars(script) or outer.f_code.co_name != "<module>":
        return False
    if outer.f_code.co_exceptiontable and _handled(outer):
        return False
    if sys.flags.inspect or os.environ.get("PYTHONINSPECT"):
        return False
    threading = sys.modules.get("threading")
    if threading is not None:
        main = threading.main_thread()
        if any(t is not main and not t.daemon and t.is_alive() for t in threading.enumerate()):
            return False
    return all(_inert(value) for module in _own_modules(script) for value in _values(module))


def _own_modules(script: ModuleType) -> list[ModuleType]:
    """The script's module and the modules imported from its folder (the project's, not
    an installed package's, even one in a virtual environment there)."""
    path = getattr(script, "__file__", None)
    if not isinstance(path, str):
        return [script]
    folder = os.path.join(os.path.dirname(os.path.abspath(path)), "")
    own = [script]
    for module in list(sys.modules.values()):
        file = getattr(module, "__file__", None)
        if (
            module is not script
            and isinstance(file, str)
            and file.startswith(folder)
            and "-packages" + os.sep not in file[len(folder) :]
        ):
            own.append(module)
    return own


def _values(module: ModuleType) -> list[object]:
    return [v for k, v in list(vars(module).items()) if not k.startswith("__")]


#: What the teardown would only free: nothing of these is closed, flushed or finalized.
_PLAIN = (int, float, complex, str, bytes, bool, type(None), range, type(...), slice)
_NAMED = (type, ModuleType, FunctionType, BuiltinFunctionType, MethodType, staticmethod)
#: Library types a flow file often holds at module level, as plain as the above.
_INERT_TYPES = frozenset(
    {
        "re.Pattern",
        "pathlib.PurePath",
        "logging.Logger",  # its handlers are closed by logging's own exit function
        "logging.LoggerAdapter",
        "datetime.date",
        "datetime.time",
        "datetime.timedelta",
        "decimal.Decimal",
        "fractions.Fraction",
        "uuid.UUID",
        "functools.partial",
        "typing.TypeVar",
        "enum.Enum",
    }
)
#: Containers deeper or longer than this count as holding something (a table loaded at
#: module level): looking through them would cost what the fast exit saves.
_DEPTH, _LENGTH = 3, 1000


def _inert(value: object, depth: int = 0) -> bool:
    """Whether the teardown would do nothing to ``value`` but free it: flowkit's own
    objects (``current``) included."""
    if isinstance(value, _PLAIN + _NAMED) or _plain_type(type(value)):
        return True
    if isinstance(value, tuple | list | set | frozenset | dict):
        if depth >= _DEPTH or len(value) > _LENGTH:
            return False
        items = [*value.keys(), *value.values()] if isinstance(value, dict) else value
        return all(_inert(item, depth + 1) for item in items)
    return False


def _plain_type(kind: type) -> bool:
    if kind.__module__.split(".")[0] == "flowkit":
        return True
    return any(f"{k.__module__}.{k.__qualname__}" in _INERT_TYPES for k in kind.__mro__)


def _handled(frame: FrameType) -> bool:
    """Whether a ``try`` or ``with`` of ``frame``'s own code covers the call it is making
    (a module whose code has handlers elsewhere, ``try: import x``, is still the whole
    program); True where the table cannot be read."""
    try:
        from dis import _parse_exception_table  # type: ignore[attr-defined]  # its own reader

        entries = _parse_exception_table(frame.f_code)
    except (ImportError, AttributeError, TypeError, ValueError):
        return True
    return any(entry.start <= frame.f_lasti < entry.end for entry in entries)
