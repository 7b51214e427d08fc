"""``python -m benchmarks``: flowkit against Metaflow, alternately, medians in one table.

    python -m benchmarks [--quick] [--repeat 3] [--repeat-big 2] [--json FILE]
                         [--only hello,linear,...] [--tools flowkit,metaflow] [--keep DIR]

The first run installs Metaflow (and numpy) from PyPI into ``.bench/metaflow-venv``, and
this tree into ``.bench/flowkit-venv`` (regular installs, as users make them; flowkit's code is
then imported from the tree itself); later runs reuse them. Every store lives in a temporary folder, removed at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import metaflow_env, report, tools
from benchmarks.harness import run_all
from benchmarks.measure import CommandFailed
from benchmarks.scenarios import FULL, QUICK, SCENARIOS

EXIT_FAILED = 1
EXIT_NO_METAFLOW = 3


def _parser() -> argparse.ArgumentParser:
    names = ",".join(s.name for s in SCENARIOS)
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one repetition")
    parser.add_argument("--repeat", type=int, default=None, help="runs per tool (default 3)")
    parser.add_argument(
        "--repeat-big", type=int, default=2, help="at most this many for the big scenarios"
    )
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    parser.add_argument("--only", default=None, help=f"comma-separated subset of: {names}")
    parser.add_argument("--tools", default="flowkit,metaflow")
    parser.add_argument("--keep", type=Path, default=None, help="keep stores and logs here")
    parser.add_argument(
        "--flowkit-path",
        type=Path,
        default=None,
        help="import flowkit from this folder (e.g. a commit's tree) instead of this tree",
    )
    parser.add_argument("--metaflow-spec", default="metaflow", help="pip requirement to install")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    chosen = SCENARIOS
    if args.only:
        wanted = args.only.split(",")
        unknown = set(wanted) - {s.name for s in SCENARIOS}
        if unknown:
            raise SystemExit(f"unknown scenario(s): {', '.join(sorted(unknown))}")
        chosen = [s for s in SCENARIOS if s.name in wanted]
    tool_names = args.tools.split(",")
    makers = {"flowkit": lambda: tools.flowkit(args.flowkit_path), "metaflow": tools.metaflow}
    if not tool_names or set(tool_names) - set(makers):
        raise SystemExit("--tools takes flowkit, metaflow or both")
    meta: dict[str, object] = {"quick": args.quick, "flowkit_path": str(args.flowkit_path)}
    try:
        if "metaflow" in tool_names:
            meta["metaflow_version"] = metaflow_env.ensure(spec=args.metaflow_spec)
        made = [makers[t]() for t in tool_names]
    except metaflow_env.MetaflowUnavailable as exc:
        print(exc, file=sys.stderr)
        return EXIT_NO_METAFLOW
    if args.quick:
        chosen = [s for s in chosen if not s.full_only]
    sizes = QUICK if args.quick else FULL
    repeat = args.repeat or (1 if args.quick else 3)
    meta.update(repeat=repeat, repeat_big=min(repeat, args.repeat_big), sizes=sizes.__dict__)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="flowkit-bench-") as tmp:
        scratch = args.keep or Path(tmp)
        try:
            rows = run_all(
                chosen,
                made,
                scratch=scratch,
                sizes=sizes,
                repeat=repeat,
                repeat_big=args.repeat_big,
                warm=not args.quick,
            )
        except CommandFailed as exc:
            print(f"benchmark command failed: {exc}", file=sys.stderr)
            return EXIT_FAILED
    meta["wall_s"] = time.perf_counter() - started
    print(f"\n{report.machine()}; medians of {repeat} runs ({meta['repeat_big']} for the big ones)")
    print(report.table(rows, tool_names))
    if any(r.name in report.STORE_ROWS for r in rows):
        print()
        print(report.store_table(rows, tool_names))
    if any(r.median_overhead(t) for r in rows for t in tool_names):
        print()
        print(report.overhead_table(rows, tool_names))
    if args.json:
        report.write_json(args.json, report.to_json(rows, tool_names, meta))
    return 0


if __name__ == "__main__":
    sys.exit(main())
