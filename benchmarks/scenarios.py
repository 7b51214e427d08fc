"""The scenarios: what each one runs under one tool, and the sizes of a full or quick run."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from benchmarks import flows
from benchmarks.measure import StoreSize, run_measured, store_size
from benchmarks.tools import Tool


@dataclass(frozen=True)
class Sizes:
    """How big each scenario is; ``QUICK`` keeps the whole suite to seconds."""

    linear_steps: int
    foreach_small: int
    foreach_large: int
    array_mb: int
    client_runs: int
    #: The full run's largest fan-out (flowkit only); a quick run leaves it out.
    foreach_huge: int = 0


FULL = Sizes(
    linear_steps=20,
    foreach_small=100,
    foreach_large=1000,
    array_mb=500,
    client_runs=50,
    foreach_huge=10_000,
)
#: Each size as small as the scenario still shows what it is about: Metaflow starts a process
#: per task (0.5-1 s each), so the quick run's time is mostly its task count. The linear flow
#: keeps a middle step to fail at (resume), the large fan-out stays wider than the small one.
QUICK = Sizes(linear_steps=4, foreach_small=3, foreach_large=8, array_mb=8, client_runs=2)


@dataclass(frozen=True)
class Sample:
    """One timed command: wall seconds, CPU seconds (user + system) and peak RSS of its
    process tree, what it wrote; for a fan-out, how many tasks it ran; for a scenario with
    one, the same work in plain Python (no flowkit), measured just before."""

    seconds: float
    peak_rss: int
    written: StoreSize
    cpu_seconds: float = 0.0
    tasks: int | None = None
    baseline: Sample | None = None


@dataclass
class Context:
    """One tool's scratch folder for a whole benchmark, and stores kept between scenarios."""

    tool: Tool
    root: Path
    sizes: Sizes
    kept: dict[str, Path] = field(default_factory=dict)
    _count: int = 0

    def fresh(self, name: str) -> Path:
        """A new empty folder (its store goes at ``<folder>/store``)."""
        self._count += 1
        folder = self.root / f"{self._count:03d}-{name}"
        folder.mkdir(parents=True)
        return folder

    def _log(self, folder: Path) -> Path:
        self._count += 1
        return folder / f"log-{self._count:03d}.txt"

    def flow(self, folder: Path, name: str, text: str) -> Path:
        return self.tool.write(folder, name, text)

    def measure(
        self,
        folder: Path,
        argv: list[str],
        *,
        env: dict[str, str] | None = None,
        expect_failure: bool = False,
    ) -> Sample:
        store = folder / "store"
        before = store_size(store, self.tool.is_data)
        measured = run_measured(
            argv,
            env=self.tool.env(store, env),
            cwd=folder,
            log=self._log(folder),
            expect_failure=expect_failure,
        )
        written = store_size(store, self.tool.is_data) - before
        return Sample(measured.seconds, measured.peak_rss, written, measured.cpu_seconds)

    def run(self, folder: Path, flow: Path, *args: str, **kwargs) -> Sample:
        return self.measure(folder, self.tool.command(flow, "run", *args), **kwargs)


Rows = dict[str, Sample]


@dataclass(frozen=True)
class Scenario:
    """A named scenario producing one or more table rows per repetition."""

    name: str
    labels: Callable[[Sizes], dict[str, str]]
    run: Callable[[Context], Rows]
    big: bool = False
    #: The tools it runs under, if not every one (the others' columns show "-").
    only: tuple[str, ...] | None = None
    #: Left out of a quick run.
    full_only: bool = False


def hello(ctx: Context) -> Rows:
    folder = ctx.fresh("hello")
    return {"hello": ctx.run(folder, ctx.flow(folder, "hello_flow.py", flows.HELLO))}


def hello_again(ctx: Context) -> Rows:
    """hello run a second time in the same project a second after the first, as a user
    re-running it does, with flowkit's parked spares turned on (worker_linger; off by
    default): its command line takes over the worker the first run parked (see
    flowkit.executor.parked). Metaflow keeps nothing between runs."""
    folder = ctx.fresh("hello-again")
    flow = ctx.flow(folder, "hello_flow.py", flows.HELLO)
    parked = {"FLOWKIT_WORKER_LINGER": "1m"}
    ctx.run(folder, flow, env=parked)
    time.sleep(1.0)
    return {"hello-again": ctx.run(folder, flow, env=parked)}


def linear(ctx: Context) -> Rows:
    folder = ctx.fresh("linear")
    flow = ctx.flow(folder, "linear_flow.py", flows.linear(ctx.sizes.linear_steps))
    return {"linear": ctx.run(folder, flow)}


def _foreach(ctx: Context, row: str, splits: int, *, keep: bool = True) -> Rows:
    folder = ctx.fresh(row)
    sample = ctx.run(folder, ctx.flow(folder, "fan_flow.py", flows.FOREACH), "--n", str(splits))
    if row in ctx.kept:
        shutil.rmtree(ctx.kept[row].parent)
    if keep:
        ctx.kept[row] = folder / "store"
    else:
        shutil.rmtree(folder)
    # start, the splits, join and end
    return {row: replace(sample, tasks=splits + 3)}


def foreach_small(ctx: Context) -> Rows:
    return _foreach(ctx, "foreach-small", ctx.sizes.foreach_small)


def foreach_large(ctx: Context) -> Rows:
    return _foreach(ctx, "foreach-large", ctx.sizes.foreach_large)


def foreach_huge(ctx: Context) -> Rows:
    return _foreach(ctx, "foreach-huge", ctx.sizes.foreach_huge, keep=False)


def array(ctx: Context) -> Rows:
    folder = ctx.fresh("array")
    plain = folder / "array_plain.py"
    plain.write_text(flows.ARRAY_PLAIN)  # no flowkit in it: the same for every tool
    mb = str(ctx.sizes.array_mb)
    baseline = ctx.measure(folder, [str(ctx.tool.python), str(plain), mb])
    flow = ctx.flow(folder, "array_flow.py", flows.ARRAY)
    size = ("--megabytes", mb)
    rows = {
        "array": replace(ctx.run(folder, flow, *size), baseline=baseline),
        "array-again": replace(ctx.run(folder, flow, *size), baseline=baseline),
    }
    shutil.rmtree(folder)  # hundreds of MB per repetition and tool
    return rows


def resume(ctx: Context) -> Rows:
    folder = ctx.fresh("resume")
    flow = ctx.flow(folder, "linear_flow.py", flows.linear(ctx.sizes.linear_steps))
    fail = {"BENCH_FAIL_AT": flows.fail_step(ctx.sizes.linear_steps)}
    ctx.run(folder, flow, env=fail, expect_failure=True)
    return {"resume": ctx.measure(folder, ctx.tool.command(flow, "resume"))}


def _client_store(ctx: Context) -> Path:
    """A store holding a finished large fan-out and ``client_runs`` hello runs (made once)."""
    if "client" in ctx.kept:
        return ctx.kept["client"]
    if "foreach-large" not in ctx.kept:
        foreach_large(ctx)
    store = ctx.kept["foreach-large"]
    folder = store.parent
    hello_flow = ctx.flow(folder, "hello_flow.py", flows.HELLO)
    for _ in range(ctx.sizes.client_runs):
        ctx.run(folder, hello_flow)
    ctx.kept["client"] = store
    return store


def client(ctx: Context) -> Rows:
    store = _client_store(ctx)
    folder = store.parent
    scripts = {
        "client-latest": (flows.CLIENT_LATEST, []),
        "client-tasks": (flows.CLIENT_TASKS, [str(ctx.sizes.foreach_large)]),
        "client-runs": (flows.CLIENT_RUNS, [str(ctx.sizes.client_runs)]),
    }
    rows = {}
    for row, (text, args) in scripts.items():
        script = ctx.tool.write(folder, f"{row}.py", text)
        rows[row] = ctx.measure(folder, [str(ctx.tool.python), str(script), *args])
    return rows


SCENARIOS = [
    Scenario("hello", lambda s: {"hello": "hello, 3 steps"}, hello),
    Scenario(
        "hello-again",
        lambda s: {"hello-again": "hello again 1 s later, parked spare on"},
        hello_again,
    ),
    Scenario("linear", lambda s: {"linear": f"linear, {s.linear_steps} steps"}, linear),
    Scenario(
        "foreach-small",
        lambda s: {"foreach-small": f"foreach, {s.foreach_small:,} splits, 2 workers"},
        foreach_small,
    ),
    Scenario(
        "foreach-large",
        lambda s: {"foreach-large": f"foreach, {s.foreach_large:,} splits, 2 workers"},
        foreach_large,
        big=True,
    ),
    Scenario(
        "foreach-huge",
        lambda s: {"foreach-huge": f"foreach, {s.foreach_huge:,} splits, 2 workers"},
        foreach_huge,
        big=True,
        # Metaflow would take about 25 minutes
        only=("flowkit",),
        full_only=True,
    ),
    Scenario(
        "array",
        lambda s: {
            "array": f"{s.array_mb} MB float64 array: create, then sum",
            "array-again": "the same run again (dedup)",
        },
        array,
        big=True,
    ),
    Scenario(
        "resume",
        lambda s: {"resume": f"resume {s.linear_steps} steps failing at step {s.linear_steps - 1}"},
        resume,
    ),
    Scenario(
        "client",
        lambda s: {
            "client-latest": "client, fresh process: latest run's artifact",
            "client-tasks": f"client, fresh process: {s.foreach_large:,} tasks' artifacts",
            "client-runs": f"client, fresh process: list {s.client_runs} runs",
        },
        client,
    ),
]
