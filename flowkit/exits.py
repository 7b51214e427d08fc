"""Ending a process flowkit owns without the interpreter's teardown.

A normal exit frees the objects of every module the process imported, one by one: 20-40 ms
of CPU for a command line that has run a flow, on its critical path, and most of a worker's
shutdown. Where nothing but that teardown is left to run, flowkit ends the process at once,
after what a normal exit does that anyone could observe: the functions registered to run at
exit run (``atexit``: logging's shutdown, ``weakref.finalize``, a coverage tool's save, the
flow's own), files the script left open at module level are flushed, and so are stdout and
stderr. The status is the one the interpreter would have exited with.

A command line takes this path only where it is the whole program (:func:`leave_if_owned`):
a script whose module code called flowkit's entry point directly, with no ``try`` or
``with`` of its own around it (whose ``finally`` or ``__exit__`` would run as the exit
unwinds), no other thread the interpreter would wait for, and no interactive prompt to drop
into afterwards. Anything else (IPython's ``%run``, ``pdb``, ``runpy``, a test calling the
command) exits as it always did.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import os
import sys
from types import FrameType
from typing import NoReturn


def leave(code: int) -> NoReturn:
    """Exit with status ``code`` now: run what was registered to run at exit, flush stdout
    and stderr, and end the process without the interpreter's teardown."""
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # closed, or replaced by something odd
            stream.flush()
    os._exit(code)


def leave_if_owned(done: SystemExit, entry: FrameType) -> None:
    """Exit as ``done`` asks, without the teardown, if this process's exit is flowkit's to
    take; return otherwise (the caller raises ``done`` again). ``entry``: the frame of
    flowkit's entry point (a flow's ``FlowSpec()``, the console script's ``main``)."""
    code = 0 if done.code is None else done.code
    if not isinstance(code, int) or not _owned(entry):
        return
    script = sys.modules["__main__"]
    for value in list(vars(script).values()):
        if isinstance(value, io.IOBase) and not value.closed:
            with contextlib.suppress(Exception):
                value.flush()  # what the teardown would have done, closing it
    leave(code)


def _owned(entry: FrameType) -> bool:
    """Whether the script's module code called ``entry`` directly, outside any ``try`` or
    ``with`` of its own, with no other non-daemon thread alive and no ``python -i``."""
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
    if threading is None:
        return True
    main = threading.main_thread()
    return not any(t is not main and not t.daemon and t.is_alive() for t in threading.enumerate())


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
