"""``run --reuse`` after an edit runs again what the edit changes: a step's decorators (user
step decorators' code and arguments, ``@environment``, ``@catch``, ``@timeout`` under catch,
``--with catch``), parameters read through a helper or ``getattr``, the flow's own methods;
and never reuses a task ``@catch`` caught."""

from __future__ import annotations

from pathlib import Path

import pytest

import flowkit
from flowkit.store import layout, open_store
from tests.runtime.test_shapes import Quiet

SOURCE = """\
import os

from flowkit import FlowSpec, Parameter, UserStepDecorator, environment, resources, retry, step
from flowkit import catch, timeout, user_step_decorator


@user_step_decorator
def stamp(step_name, flow, inputs, attributes):
    yield
    flow.stamp = "v1:" + attributes["label"]


class Marker(UserStepDecorator):
    def post_step(self, step_name, flow, exception=None):
        flow.marked = "m1"
        return exception


def read_alpha(flow):
    return flow.alpha


class KeysFlow(FlowSpec):
    alpha = Parameter("alpha", default=1)
    beta = Parameter("beta", default=1)

    @step
    def start(self):
        self.next(self.stamped, self.env, self.marked_step, self.helped, self.method,
                  self.guarded)

    @stamp(label="a")
    @step
    def stamped(self):
        self.next(self.join)

    @environment(vars={"MODE": "a"})
    @step
    def env(self):
        self.mode = os.environ["MODE"]
        self.next(self.join)

    @timeout(seconds=30)
    @Marker
    @step
    def marked_step(self):
        self.next(self.join)

    @step
    def helped(self):
        self.via_helper = read_alpha(self)
        self.via_getattr = getattr(self, "be" + "ta")
        self.next(self.join)

    @step
    def method(self):
        self.via_method = self.scaled()
        self.next(self.join)

    @resources(cpu=1)
    @retry(times=0)
    @step
    def guarded(self):
        self.guarded_value = 1
        self.next(self.join)

    @step
    def join(self, inputs):
        self.merge_artifacts(inputs)
        self.next(self.end)

    @step
    def end(self):
        pass

    def scaled(self):
        return self.alpha * 10
"""

ALL = ["end", "env", "guarded", "helped", "join", "marked_step", "method", "stamped", "start"]


def _ran(run: flowkit.Run) -> list[str]:
    return sorted(d["step"] for d in run.explanation if d["action"] == "run")


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new))


@pytest.mark.slow
def test_edits_to_decorators_helpers_and_methods_rerun_what_they_change(tmp_path: Path) -> None:
    flow = tmp_path / "code" / "keys_flow.py"
    flow.parent.mkdir()
    flow.write_text(SOURCE)
    store = str(tmp_path / "store")

    def run(*with_decorators: str, **params: int) -> flowkit.Run:
        return flowkit.run(
            flow,
            store=store,
            progress=Quiet(),
            reuse=True,
            with_decorators=with_decorators,
            **params,
        )

    first = run()
    assert _ran(first) == ALL
    assert (first.data.stamp, first.data.mode, first.data.marked) == ("v1:a", "a", "m1")
    assert _ran(run()) == []

    _edit(flow, '"v1:" + attributes', '"v2:" + attributes')  # a user decorator's code
    edited = run()
    assert _ran(edited) == ["end", "join", "stamped"] and edited.data.stamp == "v2:a"
    _edit(flow, '@stamp(label="a")', '@stamp(label="b")')  # its arguments
    edited = run()
    assert _ran(edited) == ["end", "join", "stamped"] and edited.data.stamp == "v2:b"

    _edit(flow, '{"MODE": "a"}', '{"MODE": "b"}')
    edited = run()
    assert _ran(edited) == ["end", "env", "join"] and edited.data.mode == "b"

    _edit(flow, 'flow.marked = "m1"', 'flow.marked = "m2"')  # a UserStepDecorator's post_step
    edited = run()
    assert _ran(edited) == ["end", "join", "marked_step"] and edited.data.marked == "m2"

    # read through a helper(self) and through getattr(self, name): conservatively all read
    edited = run(alpha=2)
    assert _ran(edited) == ["end", "helped", "join", "method"]
    assert (edited.data.via_helper, edited.data.via_method) == (2, 20)
    edited = run(alpha=2, beta=5)
    assert _ran(edited) == ["end", "helped", "join", "method"] and edited.data.via_getattr == 5

    _edit(flow, "return self.alpha * 10", "return self.alpha * 100")  # a method it calls
    edited = run(alpha=2, beta=5)
    assert _ran(edited) == ["end", "join", "method"] and edited.data.via_method == 200

    # where it runs, how often it is tried, a timeout without @catch: nothing changes
    _edit(flow, "@resources(cpu=1)\n    @retry(times=0)", "@resources(cpu=2)\n    @retry(times=2)")
    _edit(flow, "@timeout(seconds=30)", "@timeout(seconds=40)")
    assert _ran(run(alpha=2, beta=5)) == []

    _edit(flow, "@resources(cpu=2)", '@catch(var="err")\n    @resources(cpu=2)')
    edited = run(alpha=2, beta=5)
    assert _ran(edited) == ["end", "guarded", "join"] and edited.data.err is None
    # under @catch a timeout decides whether the task fails: it counts
    _edit(flow, '@catch(var="err")', '@catch(var="err")\n    @timeout(seconds=60)')
    assert _ran(run(alpha=2, beta=5)) == ["guarded"]  # same artifacts: the join is reused

    # --with catch: every step without its own @catch has one now
    with_catch = run("catch", alpha=2, beta=5)
    assert _ran(with_catch) == sorted(set(ALL) - {"guarded"})
    assert _ran(run("catch", alpha=2, beta=5)) == []
    assert _ran(run("retry:times=2", alpha=2, beta=5)) == []


FLAKY = """\
import os

from flowkit import FlowSpec, catch, step

MARKER = {marker!r}


class FlakyFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.flaky)

    @catch(var="err")
    @step
    def flaky(self):
        if os.path.exists(MARKER):
            raise RuntimeError("the service was down")
        self.value = 42
        self.next(self.end)

    @step
    def end(self):
        pass
"""


@pytest.mark.slow
def test_a_task_catch_caught_is_never_reused(tmp_path: Path) -> None:
    marker = tmp_path / "down"
    flow = tmp_path / "code" / "flaky_flow.py"
    flow.parent.mkdir()
    flow.write_text(FLAKY.format(marker=str(marker)))
    store = str(tmp_path / "store")

    def run(reuse: bool = True) -> flowkit.Run:
        return flowkit.run(flow, store=store, progress=Quiet(), reuse=reuse)

    good = run()
    assert good.data.value == 42 and good.data.err is None
    marker.touch()
    caught = run(reuse=False)  # same key; it fails and is caught
    assert "the service was down" in str(caught["flaky"].task.data.err)
    marker.unlink()
    after = run()  # the caught task did not push the good one out of the index
    reasons = {d["step"]: d for d in after.explanation}
    assert reasons["flaky"]["action"] == "reuse"
    assert reasons["flaky"]["origin"] == good["flaky"].task.pathspec

    marker.touch()
    fresh = tmp_path / "store2"
    store = str(fresh)
    down = run()
    assert down["flaky"].task.data.err is not None
    marker.unlink()
    again = run()  # the caught task is not reused: it runs, and succeeds this time
    assert _ran(again) == ["end", "flaky"]
    assert again.data.value == 42 and again.data.err is None
    assert _ran(run()) == []


@pytest.mark.slow
def test_a_caught_task_indexed_by_an_older_flowkit_runs_again(tmp_path: Path) -> None:
    marker = tmp_path / "down"
    marker.touch()
    flow = tmp_path / "code" / "flaky_flow.py"
    flow.parent.mkdir()
    flow.write_text(FLAKY.format(marker=str(marker)))
    store = str(tmp_path / "store")
    down = flowkit.run(flow, store=store, progress=Quiet(), reuse=True)
    records = open_store(store).records
    (first,) = records.list_tasks("FlakyFlow", down.id, "flaky")
    caught = records.task_attempts("FlakyFlow", down.id, "flaky", first.task_id)[-1]
    assert caught.caught and caught.cache_key
    # what an older flowkit wrote: the caught task indexed under its key
    body = f'{{"pathspec": "{caught.pathspec}", "attempt": {caught.attempt}}}'
    key = layout.cache_key_path("FlakyFlow", caught.cache_key)
    open_store(store).backend.put(key, [body.encode()])
    marker.unlink()
    again = flowkit.run(flow, store=store, progress=Quiet(), reuse=True)
    reasons = {d["step"]: d["reason"] for d in again.explanation}
    assert "@catch caught it" in reasons["flaky"] and again.data.value == 42


CONFIGURED = """\
from flowkit import Config, FlowSpec, step


def threshold(flow):
    return flow.cfg.threshold


class HelperConfigFlow(FlowSpec):
    cfg = Config("cfg", default_value={"threshold": 1})

    @step
    def start(self):
        self.seen = threshold(self)
        self.next(self.end)

    @step
    def end(self):
        pass
"""


@pytest.mark.slow
def test_a_config_read_only_through_a_helper_is_in_the_key(tmp_path: Path) -> None:
    flow = tmp_path / "code" / "helper_config_flow.py"
    flow.parent.mkdir()
    flow.write_text(CONFIGURED)
    store = str(tmp_path / "store")

    def run(**configs: object) -> flowkit.Run:
        return flowkit.run(flow, store=store, progress=Quiet(), reuse=True, **configs)

    assert run()["start"].task.data.seen == 1
    assert _ran(run()) == []
    changed = run(cfg={"threshold": 7})
    assert _ran(changed) == ["end", "start"] and changed["start"].task.data.seen == 7


STALE = """\
import threading

from flowkit import FlowSpec, step, user_step_decorator

SCALE = 10


class Limits:
    TOP = 5


def post(x):
    return x + 1


class Shift:
    def __init__(self, by):
        self.by = by

    def __call__(self, x):
        return x + self.by


@user_step_decorator
def apply(step_name, flow, inputs, attributes):
    yield
    setattr(flow, step_name + "_out", attributes["fn"](1))


class StaleFlow(FlowSpec):
    THRESH = 3

    @step
    def start(self):
        self.next(self.static, self.decorated, self.shifted, self.constant, self.attrs,
                  self.locked)

    @step
    def static(self):
        self.a = self.scale(3)
        self.c = self.doubled(3)
        self.next(self.join)

    @apply(fn=post)
    @step
    def decorated(self):
        self.next(self.join)

    @apply(fn=Shift(2))
    @step
    def shifted(self):
        self.next(self.join)

    @step
    def constant(self):
        self.k = SCALE * 2
        self.next(self.join)

    @step
    def attrs(self):
        self.t = (self.THRESH, Limits.TOP)
        self.next(self.join)

    @apply(fn=lambda x, lock=threading.Lock(): x)
    @step
    def locked(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.merge_artifacts(inputs)
        self.next(self.end)

    @step
    def end(self):
        pass

    @staticmethod
    def scale(x):
        return x * 10

    @classmethod
    def doubled(cls, x):
        return x * 2
"""


@pytest.mark.slow
def test_static_methods_decorator_functions_and_constants_are_in_the_key(tmp_path: Path) -> None:
    flow = tmp_path / "code" / "stale_flow.py"
    flow.parent.mkdir()
    flow.write_text(STALE)
    store = str(tmp_path / "store")

    def run() -> flowkit.Run:
        return flowkit.run(flow, store=store, progress=Quiet(), reuse=True)

    def ran(run: flowkit.Run) -> list[str]:
        names = _ran(run)
        assert "locked" in names  # its decorator's argument holds a lock: it always runs
        return [n for n in names if n != "locked"]

    first = run()
    assert ran(first) == [
        *["attrs", "constant", "decorated", "end", "join", "shifted", "start", "static"]
    ]
    assert (first.data.a, first.data.c, first.data.k, first.data.t) == (30, 6, 20, (3, 5))
    assert (first.data.decorated_out, first.data.shifted_out) == (2, 3)
    again = run()
    assert ran(again) == []  # a function and an object as decorator arguments are reused
    reasons = {d["step"]: d["reason"] for d in again.explanation}
    assert reasons["locked"] == (
        "an argument of @apply holds a lock (cannot pickle '_thread.lock' object), which has "
        "no stable form for a cache key, so the step always runs"
    )

    _edit(flow, "return x * 10", "return x * 100")  # a @staticmethod it calls
    edited = run()
    assert ran(edited) == ["end", "join", "static"] and edited.data.a == 300
    _edit(flow, "return x * 2", "return x * 4")  # a @classmethod
    edited = run()
    assert ran(edited) == ["end", "join", "static"] and edited.data.c == 12

    _edit(flow, "return x + 1", "return x + 5")  # the function given to a decorator
    edited = run()
    assert ran(edited) == ["decorated", "end", "join"] and edited.data.decorated_out == 6
    _edit(flow, "fn=Shift(2)", "fn=Shift(4)")  # an object given to a decorator
    edited = run()
    assert ran(edited) == ["end", "join", "shifted"] and edited.data.shifted_out == 5
    _edit(flow, "return x + self.by", "return x + self.by * 10")  # that object's method
    edited = run()
    assert ran(edited) == ["end", "join", "shifted"] and edited.data.shifted_out == 41

    _edit(flow, "SCALE = 10", "SCALE = 11")  # a module constant
    edited = run()
    assert ran(edited) == ["constant", "end", "join"] and edited.data.k == 22
    _edit(flow, "THRESH = 3", "THRESH = 4")  # a class attribute read as self.THRESH
    edited = run()
    assert ran(edited) == ["attrs", "end", "join"] and edited.data.t == (4, 5)
    _edit(flow, "TOP = 5", "TOP = 6")  # one read as ClassName.X
    edited = run()
    assert ran(edited) == ["attrs", "end", "join"] and edited.data.t == (4, 6)
