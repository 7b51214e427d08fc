"""The options of a run, and so the names no flow parameter may use.

One table, :data:`RUN_OPTIONS`: the keywords of ``flowkit.run``/``flowkit.resume`` and the
flags of ``python flow.py run|resume`` (dashes for underscores) are built from it or checked
against it, and lint refuses a parameter named like any of them.
"""

from __future__ import annotations

from typing import Literal

from flowkit.fastdata import dataclass


@dataclass(frozen=True)
class RunOption:
    """One option of a run: its ``keyword`` in the API, and its ``flag`` on the command line
    (None: the API's alone); ``resume_only`` for what only a resume takes; ``kind`` says how
    the flag takes its value (``flag``: given or not; ``multiple``: repeatable)."""

    keyword: str
    flag: str | None
    resume_only: bool = False
    kind: Literal["value", "flag", "multiple"] = "value"


#: Every option of ``run`` and ``resume``, in the order the command line lists them.
RUN_OPTIONS: tuple[RunOption, ...] = (
    RunOption("flow", None),  # on the command line, the flow file itself
    RunOption("step", "step", resume_only=True),  # resume's STEP argument
    RunOption("origin_run_id", "origin-run-id", resume_only=True),
    RunOption("run_id", "run-id", resume_only=True),  # the new run's id, as Metaflow's resume
    RunOption("store", "store"),
    RunOption("max_workers", "max-workers"),
    RunOption("max_num_splits", "max-num-splits"),
    RunOption("fail_fast", "fail-fast", kind="flag"),
    RunOption("quiet", "quiet", kind="flag"),
    RunOption("tags", "tag", kind="multiple"),
    RunOption("namespace", "namespace"),  # the steps' client namespace; Metaflow reserves it too
    RunOption("with_decorators", "with", kind="multiple"),
    RunOption("reuse", "reuse", kind="flag"),
    RunOption("dry_run", "dry-run", kind="flag"),
    RunOption("detach", "detach", kind="flag"),
    RunOption("run_id_file", "run-id-file"),
    RunOption("runner_attribute_file", "runner-attribute-file"),  # for Runner, as Metaflow's
    RunOption("progress", None),
    # @project's branch, --branch/--production before the command on the command line.
    # Not ``branch``/``production``: those stay free for the flow's own parameters, as in
    # Metaflow, where the project's options and the run's never meet.
    RunOption("project_branch", None),
    RunOption("project_production", None),
)

#: Names a flow parameter may not have: every keyword and flag above, and ``help``.
RUN_OPTION_NAMES = frozenset(
    {"help"}
    | {o.keyword for o in RUN_OPTIONS}
    | {o.flag.replace("-", "_") for o in RUN_OPTIONS if o.flag}
)


def run_option_named(name: str) -> str | None:
    """The run option a parameter called ``name`` would be shadowed by, if any."""
    key = name.replace("-", "_")
    return key if key in RUN_OPTION_NAMES else None
