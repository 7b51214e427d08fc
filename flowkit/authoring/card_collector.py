"""``current.card``: a task's ``@card`` reports and the components its code adds to them.

The rules are Metaflow's: ``current.card.append`` goes to the step's one editable card (a
``default`` or ``blank`` card; with several, the one without an ``id``), ``current.card[ID]``
to the card with that id. What cannot be resolved warns on stderr, once, and never fails the
step: cards are for looking at results, not a reason for a task to fail.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from flowkit.authoring.cards import CardComponent, Html, error_box
from flowkit.fastdata import dataclass, field

#: The card types flowkit renders.
KNOWN_TYPES = frozenset({"default", "blank"})
#: The card types whose cards take components (the others render from the task alone).
EDITABLE_TYPES = KNOWN_TYPES
#: What an id must look like to be reachable as ``current.card[ID]`` (Metaflow's rule).
CARD_ID = re.compile(r"^[a-zA-Z0-9_]+$")

Warn = Callable[[str], None]


def _stderr(message: str) -> None:
    sys.stderr.write(f"[@card WARNING] {message}\n")


class CardComponents:
    """One card's components, in the order they were added (``current.card[ID]``; its
    ``components`` is itself). A component added with an ``id`` can be looked up by it."""

    def __init__(self, warn: Warn = _stderr, components: Iterable[Any] = ()) -> None:
        self._warn = warn
        self._items: dict[str, CardComponent] = {}
        self.extend(components)

    def append(self, component: Any, id: str | None = None) -> None:
        if not isinstance(component, CardComponent):
            self._warn(
                f"Component ({component!r}) is not a valid card component. It will not be "
                "stored: use one of flowkit.cards' (Markdown, Table, Image, ...)."
            )
            return
        key = id or component.component_id or f"component-{len(self._items)}-{id_of(component)}"
        component.component_id = key
        self._items[key] = component

    def extend(self, components: Iterable[Any]) -> None:
        for component in components:
            self.append(component)

    def clear(self) -> None:
        self._items.clear()

    def refresh(self, data: Any = None, force: bool = False) -> None:
        """Metaflow re-renders a card while its task runs; flowkit renders it once, when the
        task ends, so there is nothing to do yet."""

    @property
    def components(self) -> CardComponents:
        return self

    def keys(self) -> list[str]:
        return list(self._items)

    def __getitem__(self, key: str) -> CardComponent:
        if key not in self._items:
            raise KeyError(
                f"no component with id '{key}' (the card has: {', '.join(self._items) or 'none'})"
            )
        return self._items[key]

    def __delitem__(self, key: str) -> None:
        self[key]  # the KeyError that names what there is
        del self._items[key]

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __iter__(self) -> Iterator[CardComponent]:
        return iter(list(self._items.values()))

    def __len__(self) -> int:
        return len(self._items)


def id_of(component: object) -> str:
    return format(id(component), "x")


class CardWarning(CardComponent):
    """A ``current.card`` warning, shown in the step's editable cards too."""

    def __init__(self, message: str) -> None:
        self.message = message

    def render(self) -> Html:
        return error_box("@card WARNING", self.message)


@dataclass
class CardSlot:
    """One ``@card`` of the running step, with what its code added to it."""

    type: str = "default"
    id: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    timeout: float = 45.0
    customize: bool = False
    components: CardComponents = field(default_factory=CardComponents)

    @property
    def editable(self) -> bool:
        return self.type in EDITABLE_TYPES


class CardCollector:
    """``current.card`` while a task runs: the step's cards, resolved as Metaflow does."""

    def __init__(self, cards: Sequence[CardSlot] = (), *, step: str = "", warn: Warn = _stderr):
        self.cards = list(cards)
        self._step, self._warn = step, warn
        self._warned: set[str] = set()
        for card in self.cards:
            card.components = CardComponents(warn, card.components)
        self._by_id = self._ids()
        self._default = self._default_card()

    def _ids(self) -> dict[str, CardSlot]:
        by_id: dict[str, CardSlot] = {}
        seen: list[str] = []
        for card in self.cards:
            if card.id is None:
                continue
            if not CARD_ID.match(card.id):
                self._warn(
                    f"@card with id '{card.id}' doesn't match REGEX pattern. Adding custom "
                    f"components to cards will not be accessible via `current.card['{card.id}']`. "
                    f"Please create `id` of pattern {CARD_ID.pattern}."
                )
                continue
            seen.append(card.id)
            by_id[card.id] = card
        for duplicate in sorted({i for i in seen if seen.count(i) > 1}):
            self._warn(
                f"Multiple `@card` decorator have been annotated with duplicate ids : "
                f"{duplicate}. `current.card['{duplicate}']` will not work"
            )
            del by_id[duplicate]
        return by_id

    def _default_card(self) -> CardSlot | None:
        editable = [c for c in self.cards if c.editable]
        if len(editable) == 1:
            return editable[0]
        customized = [c for c in editable if c.customize]
        if len(customized) == 1:
            return customized[0]
        unnamed = [c for c in editable if c.id is None]
        return unnamed[0] if len(unnamed) == 1 else None

    def _once(self, key: str, message: str) -> None:
        if key in self._warned:
            return
        self._warned.add(key)
        self._warn(message)
        for card in self.cards:
            if card.editable:
                card.components.append(CardWarning(message))

    def _unresolved(self, verb: str) -> None:
        if not self.cards:
            reason = f"Step '{self._step}' has no @card decorator."
            fix = "Add @card to the step to make a card of its components."
        elif len(self.cards) == 1 and self.cards[0].type not in KNOWN_TYPES:
            reason = f"Card of type `{self.cards[0].type}` doesn't exist."
            fix = "Please use a card `type` which exists ('default' or 'blank')."
        elif len(self.cards) == 1:
            reason = f"Card of type `{self.cards[0].type}` is not an editable card."
            fix = "Please use an editable card (type 'default' or 'blank')."
        else:
            reason = f"`current.card.{verb}` cannot disambiguate between multiple @card decorators."
            fix = "To fix this set the `id` argument in all @card's when using multiple @card decorators over a single @step."
        self._once(
            verb,
            f"{reason} Component will not be appended and `current.card.{verb}` will not work "
            f"for any call during this runtime execution. {fix}",
        )

    def append(self, component: Any, id: str | None = None) -> None:
        """Add a component to the step's default editable card."""
        if self._default is None:
            self._unresolved("append")
            return
        self._default.components.append(component, id=id)

    def extend(self, components: Iterable[Any]) -> None:
        """Add components to the step's default editable card."""
        if self._default is None:
            self._unresolved("extend")
            return
        self._default.components.extend(components)

    def clear(self) -> None:
        if self._default is not None:
            self._default.components.clear()

    def refresh(self, data: Any = None, force: bool = False) -> None:
        """Cards render when the task ends; nothing to do while it runs."""

    @property
    def components(self) -> CardComponents | None:
        if self._default is None:
            self._unresolved("components")
            return None
        return self._default.components

    def get(self, type: str | None = None) -> list[CardComponents]:
        """The components of every card of ``type``."""
        return [c.components for c in self.cards if c.type == type]

    def __getitem__(self, key: str) -> CardComponents | list[Any]:
        if key in self._by_id:
            return self._by_id[key].components
        self._once(
            f"getitem:{key}",
            f"`current.card['{key}']` is not present. Please set the `id` argument in @card "
            f"to '{key}' to access `current.card['{key}']`. `current.card['{key}']` will "
            "return an empty `list` which is not referenced to `current.card` object.",
        )
        return []

    def __setitem__(self, key: str, value: Any) -> None:
        if key not in self._by_id:
            self._warn(
                f"`current.card['{key}']` is not present. Please set the `id` argument in "
                f"@card to '{key}' to access `current.card['{key}']`."
            )
            return
        if not isinstance(value, list):
            self._warn(f"`current.card['{key}']` not set: it takes a `list` of card components.")
            return
        self._by_id[key].components = CardComponents(self._warn, value)

    def __repr__(self) -> str:
        kinds = ", ".join(f"{c.type}{f'[{c.id}]' if c.id else ''}" for c in self.cards)
        return f"<current.card: {kinds or 'no @card on this step'}>"


_ACTIVE: ContextVar[CardCollector | None] = ContextVar("flowkit_cards", default=None)


@contextmanager
def collecting(collector: CardCollector) -> Iterator[CardCollector]:
    """Make ``current.card`` be ``collector`` for the duration of the block."""
    token = _ACTIVE.set(collector)
    try:
        yield collector
    finally:
        _ACTIVE.reset(token)


def active_collector(step: str) -> CardCollector:
    """The running task's collector; one without cards where the task layer bound none."""
    return _ACTIVE.get() or CardCollector(step=step)
