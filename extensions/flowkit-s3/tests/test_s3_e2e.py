"""flowkit on an S3 store end to end, as a user runs it: real flows in subprocesses against
SeaweedFS on 127.0.0.1, read back from fresh processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from seaweedfs import S3Server

ROOT = Path(__file__).resolve().parents[3]

FLOW = """\
import os, sys, time
from flowkit import FlowSpec, Parameter, step


class S3Flow(FlowSpec):
    n = Parameter("n", default=20)

    @step
    def start(self):
        self.items = list(range(self.n))
        print("fanning out over", len(self.items))
        self.next(self.work, foreach="items")

    @step
    def work(self):
        if os.environ.get("BREAK_ITEM") == str(self.input):
            raise ValueError(f"item {self.input} is broken")
        self.value = self.input * self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.value for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        print("total", self.total)


if __name__ == "__main__":
    S3Flow()
"""

SLOW_PRINTER = """\
import os, time
from flowkit import FlowSpec, step


class TalkFlow(FlowSpec):
    @step
    def start(self):
        print("first line", flush=True)
        while not os.path.exists(os.environ["GO_FILE"]):
            time.sleep(0.05)
        print("last line", flush=True)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    TalkFlow()
"""

READ_BACK = """\
import json, sys
from flowkit import Flow
run = Flow(sys.argv[1]).latest_run
out = {"id": run.id, "successful": run.successful}
for name in sys.argv[2:]:
    step, _, attr = name.partition(".")
    out[name] = getattr(run[step].task.data, attr)
print(json.dumps(out))
"""


def _env(server: S3Server, store: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "FLOWKIT_"))}
    return {**env, **server.env(), "FLOWKIT_STORE": store, "PYTHONPATH": str(ROOT), **extra}


def _run(
    cmd: list[str], env: dict[str, str], cwd: Path, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )


def _flowkit(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return _run([sys.executable, "-m", "flowkit.cli.main", *args], env, cwd)


def _read(flow: str, *names: str, env: dict[str, str], cwd: Path) -> dict[str, object]:
    done = _run([sys.executable, "-c", READ_BACK, flow, *names], env, cwd)
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    return result


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "s3flow.py").write_text(FLOW)
    (tmp_path / "talk.py").write_text(SLOW_PRINTER)
    return tmp_path


@pytest.mark.slow
def test_a_foreach_fails_resumes_and_reads_back_from_a_fresh_process(
    s3_server: S3Server, s3_url: str, project: Path
) -> None:
    env = _env(s3_server, s3_url)
    failed = _run(
        [sys.executable, "s3flow.py", "run", "--n", "30"], {**env, "BREAK_ITEM": "7"}, project
    )
    assert failed.returncode != 0
    assert "item 7 is broken" in failed.stderr + failed.stdout
    assert s3_url in failed.stdout + failed.stderr  # the run says where its store is

    resumed = _run([sys.executable, "s3flow.py", "resume"], env, project)
    assert resumed.returncode == 0, resumed.stderr
    back = _read("S3Flow", "join.total", "start.items", env=env, cwd=project)
    assert back["successful"] is True
    assert back["join.total"] == sum(i * i for i in range(30))
    assert back["start.items"] == list(range(30))

    # the resume cloned the 29 good branches and ran the broken one again
    explain = _run(
        [
            sys.executable,
            "-c",
            "import sys; from flowkit import Flow; r = Flow('S3Flow').latest_run;"
            "print(r.origin_run_id, len(list(r['work'])))",
        ],
        env,
        project,
    )
    origin, tasks = explain.stdout.split()
    assert origin != "None" and tasks == "30"

    logs = _flowkit("logs", f"S3Flow/{back['id']}/end", env=env, cwd=project)
    assert logs.returncode == 0 and f"total {sum(i * i for i in range(30))}" in logs.stdout

    fsck = _flowkit("fsck", env=env, cwd=project)
    assert fsck.returncode == 0, fsck.stdout + fsck.stderr
    assert "no problems found" in fsck.stdout


@pytest.mark.slow
def test_reuse_runs_nothing_again_on_s3(s3_server: S3Server, s3_url: str, project: Path) -> None:
    env = _env(s3_server, s3_url)
    first = _run([sys.executable, "s3flow.py", "run", "--n", "12"], env, project)
    assert first.returncode == 0, first.stderr
    again = _run([sys.executable, "s3flow.py", "run", "--n", "12", "--reuse"], env, project)
    assert again.returncode == 0, again.stderr
    check = _run(
        [
            sys.executable,
            "-c",
            "from flowkit import Flow; r = Flow('S3Flow').latest_run;"
            "print(sorted({t.origin_pathspec is not None for s in r for t in s}), r['join'].task.data.total)",
        ],
        env,
        project,
    )
    assert check.returncode == 0, check.stderr
    assert check.stdout.split("]")[0] == "[True"  # every task was reused from the first run
    assert check.stdout.strip().endswith(str(sum(i * i for i in range(12))))


@pytest.mark.slow
def test_logs_follow_shows_output_while_the_task_runs(
    s3_server: S3Server, s3_url: str, project: Path, tmp_path: Path
) -> None:
    go = tmp_path / "go"
    env = _env(s3_server, s3_url, GO_FILE=str(go))
    run = subprocess.Popen(
        [sys.executable, "talk.py", "run", "--quiet"],
        env=env,
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        run_id = None
        deadline = time.monotonic() + 60
        while run_id is None and time.monotonic() < deadline:
            listed = _flowkit("runs", "TalkFlow", env=env, cwd=project)
            lines = [ln for ln in listed.stdout.splitlines()[1:] if ln.strip()]
            run_id = lines[0].split()[0] if lines and listed.returncode == 0 else None
            time.sleep(0.3)
        assert run_id is not None, "the run never appeared"
        follow = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "flowkit.cli.main",
                "logs",
                f"TalkFlow/{run_id}/start",
                "--follow",
            ],
            env=env,
            cwd=project,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert follow.stdout is not None
        # The task waits for the go file, written only below: a first line read here reached
        # --follow while the task ran (one shown only at its end would block this read until
        # the test's timeout). No bound on how soon: a loaded CI machine took 10.1 s once.
        first = follow.stdout.readline()
        assert "first line" in first
        assert follow.poll() is None  # still following: the task has not ended
        go.touch()
        rest, err = follow.communicate(timeout=60)
        assert follow.returncode == 0, err
        assert "last line" in rest
    finally:
        go.touch()
        run.communicate(timeout=60)
    assert run.returncode == 0


def test_an_unknown_bucket_is_one_clear_error(s3_server: S3Server, project: Path) -> None:
    env = _env(s3_server, "s3://no-such-bucket-here/runs")
    done = _run([sys.executable, "s3flow.py", "run", "--n", "2"], env, project)
    assert done.returncode != 0
    assert "no-such-bucket-here" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_readme_example_runs_on_s3(s3_server: S3Server, s3_url: str, tmp_path: Path) -> None:
    env = _env(s3_server, s3_url)
    done = _run([sys.executable, str(ROOT / "examples" / "ml_pipeline.py"), "run"], env, tmp_path)
    assert done.returncode == 0, done.stderr
    back = _read(
        "MLPipelineFlow", "evaluate.test_score", "evaluate.decision", env=env, cwd=tmp_path
    )
    assert back["successful"] is True
    assert 0.9 < float(back["evaluate.test_score"]) <= 1.0  # type: ignore[arg-type]
    assert back["evaluate.decision"] == "deploy"


GC_CHECK = """\
import json, sys
from flowkit import Flow
out = {}
for run in Flow(sys.argv[1]):
    out[run.id] = [run.successful, sorted(run.user_tags), run["join"].task.data.total if run.successful else None]
print(json.dumps(out))
"""


@pytest.mark.slow
def test_gc_on_s3_beside_a_running_flow(
    s3_server: S3Server, s3_url: str, project: Path, tmp_path: Path
) -> None:
    env = _env(s3_server, s3_url)
    totals = {n: sum(i * i for i in range(n)) for n in (3, 4, 5, 6)}
    for n, tags in ((3, ["--tag", "keep"]), (4, []), (5, []), (6, [])):
        done = _run([sys.executable, "s3flow.py", "run", "--n", str(n), *tags], env, project)
        assert done.returncode == 0, done.stderr
    runs_before = json.loads(_run([sys.executable, "-c", GC_CHECK, "S3Flow"], env, project).stdout)
    assert len(runs_before) == 4

    go = tmp_path / "go"
    talk = subprocess.Popen(
        [sys.executable, "talk.py", "run", "--quiet"],
        env={**env, "GO_FILE": str(go)},
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if _flowkit("runs", "TalkFlow", env=env, cwd=project).stdout.count("running"):
                break
            time.sleep(0.3)
        rules = ["--keep-last", "1", "--keep-tag", "keep", "--grace", "0"]
        # the runs above are seconds old: gc keeps runs that new unless clocks agree
        gc_env = {**env, "FLOWKIT_CLOCK_SKEW_SECONDS": "0"}
        dry = _flowkit("gc", *rules, "--dry-run", env=gc_env, cwd=project)
        assert dry.returncode == 0, dry.stderr
        assert "runs: 2 would be deleted (2 of S3Flow); 3 kept" in dry.stdout, dry.stdout
        after_dry = json.loads(
            _run([sys.executable, "-c", GC_CHECK, "S3Flow"], env, project).stdout
        )
        assert after_dry == runs_before  # a dry run changes nothing

        real = _flowkit("gc", *rules, env=gc_env, cwd=project)
        assert real.returncode == 0, real.stderr
        assert "runs: 2 deleted (2 of S3Flow); 3 kept" in real.stdout, real.stdout
        assert "moved to the trash" in real.stdout
        go.touch()
        out, err = talk.communicate(timeout=120)
        assert talk.returncode == 0, out + err  # the run going on during gc lost nothing
    finally:
        go.touch()
        if talk.poll() is None:
            talk.kill()

    kept = json.loads(_run([sys.executable, "-c", GC_CHECK, "S3Flow"], env, project).stdout)
    # the newest run and the tagged one stay, and read back; the other two are gone
    assert sorted(v[2] for v in kept.values()) == [totals[3], totals[6]]
    assert any(v[1] == ["keep"] for v in kept.values())
    talk_back = _run(
        [
            sys.executable,
            "-c",
            "from flowkit import Flow; print(Flow('TalkFlow').latest_run.successful)",
        ],
        env,
        project,
    )
    assert talk_back.stdout.strip() == "True", talk_back.stderr
    # a kept run still resumes (from its join), and the store checks out
    oldest_kept = min(kept)
    resumed = _run(
        [sys.executable, "s3flow.py", "resume", "join", "--origin-run-id", oldest_kept],
        env,
        project,
    )
    assert resumed.returncode == 0, resumed.stderr
    fsck = _flowkit("fsck", env=env, cwd=project)
    assert fsck.returncode == 0, fsck.stdout + fsck.stderr


def test_every_way_of_naming_the_store_takes_an_s3_url(
    s3_server: S3Server, s3_url: str, project: Path
) -> None:
    env = _env(s3_server, s3_url)
    del env["FLOWKIT_STORE"]
    (project / "pyproject.toml").write_text(f'[tool.flowkit]\nstore = "{s3_url}/a"\n')
    by_project = _run([sys.executable, "s3flow.py", "run", "--n", "2"], env, project)
    assert by_project.returncode == 0, by_project.stderr
    by_flag = _run(
        [sys.executable, "s3flow.py", "run", "--n", "3", "--store", f"{s3_url}/b"], env, project
    )
    assert by_flag.returncode == 0, by_flag.stderr
    read = (
        "import sys; from flowkit import Flow; "
        "print(*[Flow('S3Flow', store=u).latest_run['join'].task.data.total for u in sys.argv[1:]])"
    )
    done = _run([sys.executable, "-c", read, f"{s3_url}/a", f"{s3_url}/b"], env, project)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["1", "5"]
