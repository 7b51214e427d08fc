"""``python -m flowkit.driver STORE KEY``: the scheduler of a run started with ``--detach``.

The job an executor runs for ``--detach`` (see :mod:`flowkit.runtime.detach`): KEY names the
run's scheduler spec in the store at STORE. It drives the run to its end, printing progress
as a terminal would (into the job's output file); SIGTERM (``scancel`` of the job) cancels
the run cleanly, like Ctrl-C. The exit status is 0 if the run succeeded, 1 if it failed,
130 if it was cancelled, 2 if it could not start.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or args[0] in ("-h", "--help"):
        print(__doc__, file=sys.stderr)
        return 2
    from flowkit.cli.running import sigterm_as_interrupt
    from flowkit.errors import FlowkitError
    from flowkit.runtime.api import RunFailed
    from flowkit.runtime.detach import drive_stored
    from flowkit.store import open_store
    from flowkit.surfaces.terminal import TerminalView

    try:
        with sigterm_as_interrupt():
            drive_stored(
                open_store(args[0]),
                args[1],
                lambda quiet: TerminalView(stream=sys.stdout, live=False, quiet=quiet),
            )
    except RunFailed as failed:
        return 130 if failed.cancelled else 1
    except FlowkitError as error:
        print(f"error: {error.render()}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
