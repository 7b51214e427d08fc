"""The names ``run`` and ``resume`` take for themselves, which no flow parameter may use.

One list, read by lint (which refuses such a parameter), by ``flowkit.run``/``flowkit.resume``
(whose keywords they are) and by ``python flow.py run|resume`` (whose flags they are, with
dashes for underscores); a test keeps the API and the CLI to it.
"""

from __future__ import annotations

#: Keywords of ``flowkit.run``/``flowkit.resume`` and flags of ``run``/``resume``.
RUN_OPTION_NAMES = frozenset(
    {
        "dry_run",
        "fail_fast",
        "flow",
        "help",
        "max_num_splits",
        "max_workers",
        "origin_run_id",
        "progress",
        "quiet",
        "reuse",
        "step",
        "store",
        "tag",
        "tags",
        "with",
        "with_",
        "with_decorators",
    }
)


def run_option_named(name: str) -> str | None:
    """The run option a parameter called ``name`` would be shadowed by, if any."""
    key = name.replace("-", "_")
    return key if key in RUN_OPTION_NAMES else None
