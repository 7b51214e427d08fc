"""Web UI benchmark (not a test): how soon a browser shows the runs list of a store with
thousands of runs, and the DAG and timeline of a run with 10,000 tasks.

    .venv/bin/python -m benchmarks.ui [--runs 2000] [--tasks 10000] [--repeat 3]
                                      [--cache /tmp/flowkit-ui-bench] [--workers 4]

The stores are made once and kept under ``--cache`` (a later run measures at once): ``--runs``
runs of a two-step flow, made by ``--workers`` processes each running it in-process in a loop
(a few minutes), and one run of a ``--tasks``-split foreach (``benchmarks.flows.FOREACH``,
about a minute). Each store is served as ``flowkit ui`` serves it (the app over the cached
store, uvicorn on 127.0.0.1) and Debian's Chromium, driven by Playwright, measures from
``page.goto``: the runs table's rows visible and the browser's first-contentful-paint; the big
run's DAG visible; its timeline's bars drawn. ``cold`` is the first page a fresh server
answers, ``warm`` the median of ``--repeat`` later ones.
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from benchmarks.flows import FOREACH, HELLO

ROOT = Path(__file__).resolve().parent.parent


class _Silent:
    """A progress sink that shows nothing (``quiet`` still prints each run's summary)."""

    def handle(self, event: object) -> None:
        pass

    def close(self) -> None:
        pass


def _make_runs(folder: str, count: int) -> int:
    """Run HelloFlow ``count`` times in this process (one worker of the pool)."""
    import flowkit

    spec = importlib.util.spec_from_file_location("hello_flow", Path(folder) / "hello_flow.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for _ in range(count):
        flowkit.run(module.HelloFlow, store=str(Path(folder) / "store"), progress=_Silent())
    return count


def many_runs(cache: Path, runs: int, workers: int) -> Path:
    """A store with ``runs`` runs of HelloFlow, made once."""
    folder = cache / f"runs-{runs}"
    if (folder / "done").exists():
        return folder / "store"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    (folder / "hello_flow.py").write_text(HELLO)
    started = time.perf_counter()
    shares = [runs // workers + (i < runs % workers) for i in range(workers)]
    with ProcessPoolExecutor(workers) as pool:
        made = sum(pool.map(_make_runs, [str(folder)] * workers, shares))
    (folder / "done").write_text(str(made))
    print(f"made {made} runs in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return folder / "store"


def big_foreach(cache: Path, tasks: int) -> Path:
    """A store with one run of a ``tasks``-split foreach, made once."""
    folder = cache / f"foreach-{tasks}"
    if (folder / "done").exists():
        return folder / "store"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    flow = folder / "fan_flow.py"
    flow.write_text(FOREACH)
    started = time.perf_counter()
    store = str(folder / "store")
    argv = [sys.executable, str(flow), "run", "--quiet", "--store", store, "--n", str(tasks)]
    subprocess.run(argv, check=True, cwd=folder)
    (folder / "done").write_text(str(tasks))
    print(f"made a {tasks}-task run in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return folder / "store"


class Server:
    """The UI's app over the cached store, as ``flowkit ui`` serves it, in a thread."""

    def __init__(self, store: Path) -> None:
        import uvicorn

        from flowkit.store import open_store
        from flowkit.store.cached import cached
        from flowkit.ui.app import create_app
        from flowkit.ui.common import UiContext

        app = create_app(UiContext(cached(open_store(str(store)))))
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the UI's server did not start")
            time.sleep(0.01)
        port = self._server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join()


def timed_page(browser: Any, url: str, ready: str) -> dict[str, float]:
    """Seconds from ``page.goto(url)`` to ``ready`` visible, the first contentful paint, and
    how many elements match ``ready`` then (bars drawn, rows shown)."""
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    try:
        started = time.perf_counter()
        page.goto(url)
        page.locator(ready).first.wait_for(state="visible", timeout=120_000)
        shown = time.perf_counter() - started
        fcp = page.evaluate(
            "() => (performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime"
        )
        return {
            "shown": shown,
            "fcp": (fcp or float("nan")) / 1000,
            "count": page.locator(ready).count(),
        }
    finally:
        page.close()


def measure(
    browser: Any, store: Path, url: Callable[[Path], str], ready: str, repeat: int
) -> dict[str, float]:
    server = Server(store)
    try:
        cold = timed_page(browser, server.url + url(store), ready)
        warm = [timed_page(browser, server.url + url(store), ready) for _ in range(repeat)]
    finally:
        server.stop()
    return {
        "cold": cold["shown"],
        "cold_fcp": cold["fcp"],
        "warm": statistics.median(w["shown"] for w in warm),
        "warm_fcp": statistics.median(w["fcp"] for w in warm),
        "count": cold["count"],
    }


def _only_run(store: Path) -> str:
    from flowkit.store import open_store

    record = next(open_store(str(store)).records.iter_runs("FanFlow"))
    return f"/FanFlow/{record.run_id}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.ui", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/flowkit-ui-bench"))
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    args = parser.parse_args(argv)
    runs = many_runs(args.cache, args.runs, args.workers)
    fan = big_foreach(args.cache, args.tasks)

    from playwright.sync_api import sync_playwright

    rows = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=args.chromium, args=["--no-sandbox"])
        # the browser's first page starts its helper processes: not the UI's time
        browser.new_page().close()
        rows.append(
            (
                f"runs list, {args.runs} runs",
                measure(
                    browser,
                    runs,
                    lambda _: "/",
                    "[data-testid=runs-table] tr[data-run]",
                    args.repeat,
                ),
            )
        )
        rows.append(
            (
                f"run page DAG, {args.tasks} tasks",
                measure(browser, fan, _only_run, "[data-testid=dag] g.dag-step", args.repeat),
            )
        )
        rows.append(
            (
                f"timeline bars, {args.tasks} tasks",
                measure(
                    browser,
                    fan,
                    lambda s: _only_run(s) + "?view=timeline",
                    "[data-testid=timeline] rect.bar",
                    args.repeat,
                ),
            )
        )
        browser.close()
    print(f"{'page':<32} {'cold s':>7} {'FCP':>6} {'warm s':>7} {'FCP':>6} {'shown':>6}")
    for label, m in rows:
        print(
            f"{label:<32} {m['cold']:>7.2f} {m['cold_fcp']:>6.2f} {m['warm']:>7.2f} "
            f"{m['warm_fcp']:>6.2f} {m['count']:>6.0f}"
        )


if __name__ == "__main__":
    main()
