"""Warm re-run benchmark: each run of a 3-step flow that imports sklearn, run several times
in one long-lived process (a script) and in one Jupyter kernel (through nbclient), so that
the second and later runs show what a warm worker kept between runs saves.

    python benchmarks/warm_bench.py [--runs 3] [--flowkit DIR]

``--flowkit DIR`` measures the flowkit checked out in DIR (a ``git worktree`` of an older
commit, say) instead of this one. Needs scikit-learn (not a flowkit dependency) and, for
the kernel, nbclient and ipykernel. Times are wall clock of ``flowkit.run`` in the process.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

FLOW = """
from flowkit import FlowSpec, step
from sklearn.linear_model import LogisticRegression


class SkFlow(FlowSpec):
    @step
    def start(self):
        self.rows = [[0.0], [1.0], [2.0], [3.0]]
        self.next(self.fit)

    @step
    def fit(self):
        model = LogisticRegression().fit(self.rows, [0, 0, 1, 1])
        self.score = float(model.score(self.rows, [0, 0, 1, 1]))
        self.next(self.end)

    @step
    def end(self):
        pass
"""

#: Runs the flow ``runs`` times in one process; prints each run's seconds as JSON.
TIMED_RUNS = """
import json, time
import flowkit
seconds = []
for _ in range({runs}):
    began = time.perf_counter()
    flowkit.run({flow}, store={store!r}, quiet=True)
    seconds.append(round(time.perf_counter() - began, 3))
print("SECONDS", json.dumps(seconds))
"""


def in_process(project: Path, store: Path, runs: int, env: dict[str, str]) -> list[float]:
    code = f"import sys; sys.path.insert(0, {str(project)!r})\n" + TIMED_RUNS.format(
        runs=runs, flow=repr(str(project / "skflow.py")), store=str(store)
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=project,
        capture_output=True,
        text=True,
        check=True,
    )
    return _seconds(done.stdout)


def in_kernel(store: Path, runs: int, env: dict[str, str]) -> list[float]:
    import nbclient
    import nbformat

    cells = [FLOW, TIMED_RUNS.format(runs=runs, flow="SkFlow", store=str(store))]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    saved = dict(os.environ)
    os.environ.update(env)  # the kernel, and the workers it starts, import this flowkit
    try:
        nbclient.NotebookClient(nb, timeout=600, kernel_name="python3").execute()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    printed = "".join(o.get("text", "") for o in nb.cells[1].get("outputs", []))
    return _seconds(printed)


def _seconds(printed: str) -> list[float]:
    line = next(x for x in printed.splitlines() if x.startswith("SECONDS "))
    return [float(s) for s in json.loads(line.removeprefix("SECONDS "))]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--flowkit", type=Path, default=ROOT, help="the flowkit checkout to time")
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(args.flowkit.resolve())}
    with tempfile.TemporaryDirectory(prefix="warm-bench-") as tmp:
        project = Path(tmp) / "project"
        project.mkdir()
        (project / "skflow.py").write_text(FLOW)
        results = {
            "process": in_process(project, Path(tmp) / "store-process", args.runs, env),
            "kernel": in_kernel(Path(tmp) / "store-kernel", args.runs, env),
        }
    print(json.dumps({"flowkit": str(args.flowkit), "seconds_per_run": results}))


if __name__ == "__main__":
    main()
