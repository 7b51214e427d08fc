"""``@slurm`` options are checked by name and kind, and a step's request becomes sbatch flags."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from flowkit.executor.base import Request
from flowkit_slurm.options import TIMEOUT_MARGIN_SECONDS, OptionError, SlurmOptions


def test_every_option_is_taken() -> None:
    options = SlurmOptions.of(
        {
            "partition": "gpu",
            "account": "lab",
            "qos": "high",
            "time": 90,
            "constraint": "a100&ib",
            "extra": "--exclusive --comment='two words'",
            "python": "/shared/venv/bin/python",
            "setup": ["module load python/3.11", "source /shared/venv/bin/activate"],
            "store": "/mnt/store",
            "output_dir": "~/slurm-out",
            "gpu_flag": "gpus",
            "gpu_type": "a100",
        }
    )
    assert options == SlurmOptions(
        partition="gpu",
        account="lab",
        qos="high",
        time="90",
        constraint="a100&ib",
        extra=("--exclusive", "--comment=two words"),
        python="/shared/venv/bin/python",
        setup=("module load python/3.11", "source /shared/venv/bin/activate"),
        store="/mnt/store",
        output_dir="~/slurm-out",
        gpu_flag="gpus",
        gpu_type="a100",
    )
    assert options.output_folder() == Path.home() / "slurm-out"


def test_defaults() -> None:
    options = SlurmOptions.of({})
    assert options == SlurmOptions()
    assert options.python == sys.executable and options.gpu_flag == "gres"
    assert options.extra == () and options.setup == () and options.time is None


def test_time_in_minutes_rounds_up_and_slurm_forms_pass() -> None:
    assert SlurmOptions.of({"time": 1.2}).time == "2"
    assert SlurmOptions.of({"time": "2:00:00"}).time == "2:00:00"
    assert SlurmOptions.of({"time": "1-0"}).time == "1-0"


def test_setup_as_one_line_and_extra_as_a_list() -> None:
    options = SlurmOptions.of({"setup": "module load x", "extra": ["--nice=10", "--a b"]})
    assert options.setup == ("module load x",)
    assert options.extra == ("--nice=10", "--a b")


def test_output_folder_defaults_to_the_user_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", "/tmp/cache-here")
    assert SlurmOptions().output_folder() == Path("/tmp/cache-here/flowkit/slurm")
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert SlurmOptions().output_folder() == Path.home() / ".cache" / "flowkit" / "slurm"


def test_an_unknown_option_names_itself_and_the_known_ones() -> None:
    with pytest.raises(OptionError) as info:
        SlurmOptions.of({"partition": "x", "nodes": 2, "mem": "4G"})
    assert str(info.value) == (
        "@slurm has no option 'mem', 'nodes' (it takes: account, constraint, extra, "
        "gpu_flag, gpu_type, output_dir, partition, python, qos, scheduler_time, setup, store, "
        "time); give "
        "other sbatch flags as extra=[...]"
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"partition": ""}, "@slurm partition='': give a non-empty string"),
        ({"account": True}, "@slurm account=True: give a non-empty string"),
        ({"qos": ["a"]}, "@slurm qos=['a']: give a non-empty string"),
        ({"python": None, "store": {}}, "@slurm store={}: give a non-empty string"),
        ({"time": 0}, "@slurm time=0: give a positive number of minutes"),
        ({"time": -5.0}, "@slurm time=-5.0: give a positive number of minutes"),
        ({"time": True}, "@slurm time=True: give a non-empty string"),
        ({"extra": 3}, "@slurm extra=3: give a list of strings or one string"),
        ({"extra": ["--a", 1]}, "@slurm extra=['--a', 1]: give a list of strings or one string"),
        ({"setup": 1}, "@slurm setup=1: give a shell command or a list of them"),
        ({"setup": [None]}, "@slurm setup=[None]: give a shell command or a list of them"),
        ({"gpu_flag": "gpu"}, "@slurm gpu_flag='gpu': use 'gres' or 'gpus'"),
        ({"gpu_flag": 2}, "@slurm gpu_flag='2': use 'gres' or 'gpus'"),
        ({"gpu_type": ""}, "@slurm gpu_type='': give a non-empty string"),
    ],
)
def test_a_value_of_the_wrong_kind_says_which(options: dict[str, Any], message: str) -> None:
    with pytest.raises(OptionError) as info:
        SlurmOptions.of(options)
    assert str(info.value) == message


def test_resources_become_sbatch_flags() -> None:
    request = Request.of({"cpu": 2.5, "memory": 1000.4, "gpu": 2, "disk": 2048})
    assert SlurmOptions().sbatch_args(request) == [
        "--cpus-per-task=3",
        "--mem=1001M",
        "--gres=gpu:2",
        "--tmp=2048M",
    ]
    assert SlurmOptions(gpu_type="a100").sbatch_args(request)[2] == "--gres=gpu:a100:2"
    assert SlurmOptions(gpu_flag="gpus").sbatch_args(request)[2] == "--gpus=2"
    typed = SlurmOptions(gpu_flag="gpus", gpu_type="h100").sbatch_args(request)
    assert typed[2] == "--gpus=h100:2"


def test_a_step_without_resources_asks_for_one_cpu_and_nothing_else() -> None:
    assert SlurmOptions().sbatch_args(Request.of(None)) == ["--cpus-per-task=1"]
    assert SlurmOptions().sbatch_args(Request.of({"cpu": 0.25})) == ["--cpus-per-task=1"]


def test_timeout_gives_a_time_limit_with_the_margin_and_time_wins() -> None:
    request = Request.of(None, timeout=600)
    limit = -(-(600 + TIMEOUT_MARGIN_SECONDS) // 60)
    assert limit == 12
    assert SlurmOptions().sbatch_args(request) == ["--cpus-per-task=1", f"--time={limit}"]
    assert SlurmOptions().sbatch_args(Request.of(None, timeout=1)) == [
        "--cpus-per-task=1",
        "--time=3",  # 121 s: rounded up to whole minutes
    ]
    explicit = SlurmOptions.of({"time": "1:00:00"})
    assert explicit.sbatch_args(request) == ["--cpus-per-task=1", "--time=1:00:00"]


def test_placement_flags_in_order_with_extra_last() -> None:
    options = SlurmOptions.of(
        {
            "extra": ["--partition=override", "--exclusive"],
            "constraint": "ib",
            "qos": "q",
            "account": "a",
            "partition": "p",
            "time": 5,
        }
    )
    assert options.sbatch_args(Request.of({"memory": 512})) == [
        "--cpus-per-task=1",
        "--mem=512M",
        "--partition=p",
        "--account=a",
        "--qos=q",
        "--constraint=ib",
        "--time=5",
        "--partition=override",
        "--exclusive",
    ]
    assert options.placement_args() == options.sbatch_args(Request.of(None))[1:]


def test_the_scheduler_job_takes_where_and_who_pays_but_not_the_tasks_limits() -> None:
    options = SlurmOptions.of(
        {
            "partition": "p",
            "account": "a",
            "qos": "q",
            "time": 30,
            "constraint": "gpu80g",
            "extra": ["--gres=gpu:1", "--exclusive"],
        }
    )
    assert options.scheduler_args() == ["--partition=p", "--account=a", "--qos=q"]
    timed = SlurmOptions.of({"scheduler_time": "3-0", "time": 30})
    assert timed.scheduler_args() == ["--time=3-0"]
    with pytest.raises(OptionError, match="scheduler_time=0: give a positive number"):
        SlurmOptions.of({"scheduler_time": 0})
