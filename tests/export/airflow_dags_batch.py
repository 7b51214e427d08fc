"""``airflow dags test`` for several DAGs, one after another, in one Airflow process: run with
the Airflow environment's Python, by test_airflow_runs.py.

Each run is Airflow's own command line (``airflow.__main__.main`` with ``dags test DAG_ID
[-c CONF]`` as its arguments), its exit status what the command's would be and its output (the
file descriptors 1 and 2) in a file of its own. One process, because a fresh ``airflow`` costs
its imports and, at its first task, the start of its in-process execution API: ~15 s a command
on a busy machine, for runs of ~1-5 s here.

argv[1]: a JSON list of {"dag_id", "conf" (or null), "env" (set for that run alone), "log"};
prints a JSON list of the exit statuses, in order.
"""

from __future__ import annotations

import json
import os
import sys
import traceback


def status_of(exit: SystemExit) -> int:
    """The exit status Python gives a process that ends with ``exit``."""
    if exit.code is None:
        return 0
    return exit.code if isinstance(exit.code, int) else 1


def dags_test(dag_id: str, conf: object, log: str) -> int:
    from airflow.__main__ import main

    sys.argv = ["airflow", "dags", "test", dag_id]
    if conf is not None:
        sys.argv += ["-c", json.dumps(conf)]
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(log, "wb") as out:
        os.dup2(out.fileno(), 1)
        os.dup2(out.fileno(), 2)
        try:
            main()
            status = 0
        except SystemExit as exit:
            if exit.code not in (None, 0) and not isinstance(exit.code, int):
                print(exit.code, file=sys.stderr)  # as Python prints it when it ends a process
            status = status_of(exit)
        except BaseException:
            traceback.print_exc()
            status = 1
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
    return status


def main() -> None:
    statuses = []
    for run in json.loads(sys.argv[1]):
        before = {name: os.environ.get(name) for name in run["env"]}
        os.environ.update(run["env"])  # the DAG's tasks start flowkit with this environment
        try:
            statuses.append(dags_test(run["dag_id"], run["conf"], run["log"]))
        finally:
            for name, value in before.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
    print(json.dumps(statuses))


if __name__ == "__main__":
    main()
