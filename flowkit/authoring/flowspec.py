"""``FlowSpecBase``: what every flow is, and what a step's ``self`` can do."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NoReturn

from flowkit.authoring.artifacts import ArtifactSource, value_digest
from flowkit.authoring.decorators import is_step
from flowkit.authoring.parameters import PARAMETERS_ATTR
from flowkit.errors import FlowDefinitionError
from flowkit.fastdata import dataclass, field, replace

#: Names a step may not use for a step, a parameter or an artifact: FlowSpec owns them.
RESERVED_NAMES = frozenset(
    {"next", "input", "index", "name", "inputs", "foreach_stack", "merge_artifacts", "run"}
)


@dataclass(frozen=True)
class ForeachFrame:
    """One level of foreach nesting: which split this task is, and of how many."""

    step: str
    index: int
    num_splits: int
    value: Any


@dataclass(frozen=True)
class Transition:
    """What a step's ``self.next(...)`` chose at run time."""

    targets: tuple[str, ...]
    foreach: str | None = None
    condition: str | None = None
    chosen_case: str | None = None
    #: Where ``self.next`` was called, for errors about what it chose.
    file: str | None = field(default=None, compare=False)
    line: int | None = field(default=None, compare=False)


class FlowSpecBase:
    """What a flow is and what a step's ``self`` can do: artifacts, ``next``, ``input``,
    ``merge_artifacts``. Flows derive from :class:`flowkit.FlowSpec`, which adds only the
    command line a flow file gets when run as a script (:mod:`flowkit.cli.script`): the layers
    below the command line know flows by this class.
    """

    def __init__(self, use_cli: bool = True) -> None:
        # ``use_cli`` is FlowSpec's; accepted here so that any flow class can be built alike.
        state: dict[str, Any] = {
            PARAMETERS_ATTR: {},
            "_flowkit_refs": {},
            "_flowkit_step_name": None,
            "_flowkit_frames": (),
            "_flowkit_transition": None,
        }
        self.__dict__.update(state)

    # -- identity -------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        """The flow's name: its class name."""
        return type(self).__name__

    # -- artifacts ------------------------------------------------------------------------------
    def __getattr__(self, attr: str) -> Any:
        # Only called when normal lookup fails: load an inherited artifact on first use.
        if attr.startswith("_"):
            raise AttributeError(attr)
        refs = self.__dict__.get("_flowkit_refs", {})
        if attr in refs:
            value = refs[attr].load(attr)
            self.__dict__[attr] = value
            self.__dict__.setdefault("_flowkit_loaded", {})[attr] = value
            return value
        known = sorted(self._flowkit_artifact_names())
        step = self.__dict__.get("_flowkit_step_name")
        where = f"step '{step}'" if step else type(self).__name__
        raise AttributeError(
            f"{where} has no artifact '{attr}'"
            + (f"; it has: {', '.join(known)}" if known else "; it has none yet")
        )

    def _flowkit_artifact_names(self) -> set[str]:
        own = {k for k in self.__dict__ if not k.startswith("_")}
        return own | set(self.__dict__.get("_flowkit_refs", {}))

    def _flowkit_stored_digest(self, attr: str) -> str | None:
        """The source's digest of ``attr`` while it still holds the value the source gave
        (loaded or not); None once the step assigned something else."""
        refs = self.__dict__.get("_flowkit_refs", {})
        if attr not in refs:
            return None
        if attr in self.__dict__:
            loaded = self.__dict__.get("_flowkit_loaded", {})
            if attr not in loaded or loaded[attr] is not self.__dict__[attr]:
                return None
        return str(refs[attr].digest(attr))

    def _flowkit_value_digest(self, attr: str) -> str:
        """A digest of ``attr``'s value in memory (loading it if need be)."""
        return value_digest(getattr(self, attr))

    def _flowkit_inherit(self, source: ArtifactSource) -> None:
        """Make every artifact of ``source`` readable here without loading it."""
        refs = self.__dict__["_flowkit_refs"]
        for attr in source.names():
            refs[attr] = source

    # -- foreach --------------------------------------------------------------------------------
    @property
    def input(self) -> Any:
        """In a foreach branch, the item of the list this task was given; else None."""
        frames = self.__dict__.get("_flowkit_frames", ())
        return frames[-1].value if frames else None

    @property
    def index(self) -> int | None:
        """In a foreach branch, the position of ``input`` in its list; else None."""
        frames = self.__dict__.get("_flowkit_frames", ())
        return frames[-1].index if frames else None

    def foreach_stack(self) -> list[tuple[int, int, Any]]:
        """``(index, num_splits, value)`` for each enclosing foreach, outermost first."""
        frames = self.__dict__.get("_flowkit_frames", ())
        return [(f.index, f.num_splits, f.value) for f in frames]

    # -- transitions ----------------------------------------------------------------------------
    def next(self, *targets: Any, foreach: str | None = None, condition: str | None = None) -> None:
        """Say which step(s) run after this one; must be the step's last statement.

        ``self.next(self.a)``, ``self.next(self.a, self.b)`` (static split),
        ``self.next(self.a, foreach="items")`` or
        ``self.next({"x": self.a, "y": self.b}, condition="choice")`` (switch).
        """
        caller = sys._getframe(1)
        where = (caller.f_code.co_filename, caller.f_lineno)
        if self.__dict__.get("_flowkit_transition") is not None:
            self._fail_next(
                "self.next() was called twice", "call it once, as the last statement", where
            )
        if condition is not None:
            transition = self._switch(targets, condition, where)
        else:
            names = tuple(self._target_name(t, where) for t in targets)
            if not names:
                self._fail_next(
                    "self.next() needs at least one step", "e.g. self.next(self.end)", where
                )
            if foreach is not None:
                self._check_foreach(foreach, where)
            transition = Transition(names, foreach=foreach)
        self.__dict__["_flowkit_transition"] = replace(transition, file=where[0], line=where[1])

    def _switch(self, targets: Sequence[Any], condition: str, where: tuple[str, int]) -> Transition:
        if len(targets) != 1 or not isinstance(targets[0], dict):
            self._fail_next(
                "a switch takes one dict of cases",
                'write self.next({"a": self.step_a, "b": self.step_b}, condition="attr")',
                where,
            )
        cases = {label: self._target_name(t, where) for label, t in targets[0].items()}
        value = getattr(self, condition)
        if value not in cases:
            self._fail_next(
                f"condition '{condition}' is {value!r}, which is not a case of the switch "
                f"({', '.join(repr(c) for c in cases)})",
                f"set self.{condition} to one of the case labels before self.next()",
                where,
            )
        return Transition((cases[value],), condition=condition, chosen_case=str(value))

    def _check_foreach(self, attr: str, where: tuple[str, int]) -> None:
        try:
            value = getattr(self, attr)
            iter(value)
        except AttributeError:
            self._fail_next(
                f"foreach='{attr}' names no artifact",
                f"assign self.{attr} = [...] before self.next(..., foreach='{attr}')",
                where,
            )
        except TypeError:
            self._fail_next(
                f"foreach='{attr}' holds a value of type {type(value).__name__}, which cannot be iterated",
                f"make self.{attr} a list (or any iterable) of the items to fan out over",
                where,
            )

    def _target_name(self, target: Any, where: tuple[str, int]) -> str:
        func = getattr(target, "__func__", None)
        if getattr(target, "__self__", None) is self and is_step(func):
            return str(target.__name__)
        self._fail_next(
            f"self.next() was given {target!r}, which is not a step of {type(self).__name__}",
            "pass steps as self.<step_name>",
            where,
        )

    def _fail_next(self, message: str, hint: str, where: tuple[str, int]) -> NoReturn:
        raise FlowDefinitionError(
            message,
            hint,
            step=self.__dict__.get("_flowkit_step_name"),
            file=where[0],
            line=where[1],
        )

    # -- joins ----------------------------------------------------------------------------------
    def merge_artifacts(
        self,
        inputs: Iterable[FlowSpecBase],
        include: Sequence[str] | None = None,
        exclude: Sequence[str] | None = None,
    ) -> None:
        """Copy onto ``self`` every artifact whose value agrees across the join's inputs.

        Artifacts already set on ``self`` are left alone. Differing values raise
        :class:`~flowkit.errors.MergeConflictError` naming every conflicting artifact;
        ``include`` limits the merge to some names, ``exclude`` leaves some out.
        """
        from flowkit.authoring.join import merge_into

        merge_into(self, list(inputs), include, exclude)


def step_functions(flow_cls: type) -> dict[str, Any]:
    """Every step function of a flow class, inherited ones too, by step name."""
    found: dict[str, Any] = {}
    for klass in reversed(flow_cls.__mro__):
        for attr, value in vars(klass).items():
            if is_step(value):
                found[attr] = value
            elif attr in found:
                del found[attr]
    return found


def bind_parameters(flow: FlowSpecBase, values: Mapping[str, Any]) -> None:
    """Give a flow object its run's parameter values (attribute name -> value). The mapping
    is kept as it is, so one that loads each value on first read stays lazy."""
    flow.__dict__[PARAMETERS_ATTR] = values
