"""Changing a run's user tags, with Metaflow's rules (``Run.add_tag``, ``remove_tags``, ...).

A tag is a non-empty string of at most 500 characters; a run has at most 50 user tags (a
larger set from before may shrink). The same rules hold for the tags a run starts with
(``--tag``, ``flowkit.run(tags=...)``: see :func:`check_tags`); a tag being removed is only
checked to be a string, so that a bad one from before can go. Adding a tag that is already one of the run's system
tags adds nothing; removing a system tag is an error; removing a tag the run lacks does
nothing. Each change is recorded once, in the store (see :mod:`flowkit.store.tags`).
"""

from __future__ import annotations

from collections.abc import Iterable

from flowkit.errors import FlowkitError
from flowkit.store.records import RunRecord
from flowkit.store.store import Store
from flowkit.store.tags import system_tags

MAX_TAG_SIZE = 500
MAX_USER_TAGS = 50


class TaggingError(FlowkitError):
    """A tag change, or a run's tags at its start, that Metaflow's rules refuse (a system tag
    removed, a bad tag, too many tags)."""


def check_tags(tags: Iterable[str], what: str, *, removing: bool = False) -> frozenset[str]:
    """``tags`` as a set, or :class:`TaggingError` naming the first that breaks the rules
    (``what``: where they were given; ``removing``: only their type is checked)."""
    if isinstance(tags, str | bytes):
        raise TaggingError(
            f"{what} may not be a string ({tags!r})", f"give a list of tags: [{tags!r}]"
        )
    out = frozenset(tags)
    for tag in out:
        if not isinstance(tag, str):
            raise TaggingError(
                f"a tag must be a string, not {type(tag).__name__} ({tag!r})",
                "give each tag as a str",
            )
        if removing:
            continue
        if not tag:
            raise TaggingError(
                f"a tag in {what} is an empty string", "give each tag at least one character"
            )
        if len(tag) > MAX_TAG_SIZE:
            raise TaggingError(
                f"tag {tag[:40]!r}... is too long ({len(tag)} > {MAX_TAG_SIZE} characters)",
                f"shorten it to at most {MAX_TAG_SIZE} characters",
            )
    return out


def check_tag_count(count: int, run: str, before: int = 0) -> None:
    """Refuse ``count`` user tags on ``run`` if that is more than allowed and than the
    ``before`` it had (a larger set from before may shrink)."""
    if count > MAX_USER_TAGS and count > before:
        raise TaggingError(
            f"run {run} would have {count} user tags, more than {MAX_USER_TAGS}",
            "remove some tags first" if before else f"give at most {MAX_USER_TAGS} tags",
        )


def replace_tags(
    store: Store, run: RunRecord, remove: Iterable[str], add: Iterable[str]
) -> frozenset[str]:
    """Remove ``remove``, then add ``add``, to ``run``'s user tags; its user tags after."""
    from flowkit.settings import current_user

    removing = check_tags(remove, "tags_to_remove", removing=True)
    adding = check_tags(add, "tags_to_add")
    if not removing and not adding:
        raise TaggingError(
            f"no tag to add or remove on run {run.flow}/{run.run_id}",
            "name at least one tag to add or to remove",
        )
    system = system_tags(run)
    if removing & system:
        raise TaggingError(
            f"cannot remove a tag that is an existing system tag "
            f"({', '.join(sorted(removing & system))}) of run {run.flow}/{run.run_id}",
            "system tags say where and how the run ran; only user tags can be removed",
        )
    adding -= system
    before = store.tags.user_tags(run)
    after = (before - removing) | adding
    if after == before:
        return before
    check_tag_count(len(after), f"{run.flow}/{run.run_id}", len(before))
    store.tags.change(run, added=sorted(adding), removed=sorted(removing), user=current_user())
    return store.tags.user_tags(run)
