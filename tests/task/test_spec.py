"""TaskSpec's JSON form: what the scheduler sends a worker and a dead letter keeps."""

from __future__ import annotations

import json
from dataclasses import asdict

from flowkit.plan.tasks import Branch
from flowkit.task.spec import CodeRef, StepContract, TaskSpec


def _full_spec() -> TaskSpec:
    """A spec with every field away from its default."""
    return TaskSpec(
        store="/tmp/store",
        flow="FanFlow",
        run_id="r1",
        step="work",
        task_id="t7",
        attempt=2,
        code=CodeRef("package", "abc123", "FanFlow", ("/src", "/lib"), "/src"),
        contract=StepContract("linear", ("join",), False, "items", "cond"),
        inputs=("start/t1/0",),
        path=(
            Branch("start", "t1", 3, 10, "foreach", ("d" * 64, 4)),
            Branch("split", "t2", 1, 2, "split"),
        ),
        max_num_splits=17,
        parameters={"n": ("e" * 64, 5, "int")},
        origin_run_id="r0",
        user="ada",
        tags=("a", "b"),
        system_tags=("user:ada",),
        cache_key="k" * 64,
        catch={"var": "err", "type": "ValueError", "message": "boom", "print": None},
        catch_var="err",
        timeout=2.5,
        with_card={"type": "default", "options": {"x": [1, 2]}},
        print_exception=False,
        client_namespace="",
    )


def test_spec_round_trips_through_json_with_every_field() -> None:
    spec = _full_spec()
    back = TaskSpec.from_json(spec.to_json())
    assert back == spec
    assert back.path[0].item == ("d" * 64, 4)
    assert back.code.sys_path == ("/src", "/lib")
    assert back.contract.targets == ("join",)


def test_spec_json_is_the_form_earlier_versions_wrote() -> None:
    """Workers of the previous version (and dead letters it stored) read the same document:
    the fast encoding writes what ``dataclasses.asdict`` did, field for field."""
    spec = _full_spec()
    earlier = asdict(spec)
    earlier["path"] = [b.to_json() for b in spec.path]
    assert json.loads(spec.to_json()) == json.loads(json.dumps(earlier))


def test_spec_json_leaves_the_spec_untouched() -> None:
    spec = _full_spec()
    spec.to_json()
    assert isinstance(spec.code, CodeRef) and isinstance(spec.contract, StepContract)
    assert spec.path[1] == Branch("split", "t2", 1, 2, "split")
