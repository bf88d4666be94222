"""Edges as data: what a field's metadata declares, read by the derived resolvers (base.py), the
stage walker (stage.py) and the compiled plan (compiled.py) alike, and the one rule that turns a
connection's arguments into a loader's page key.

Imports errors, models, graph/inputs and graph/permissions.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from facade.errors import BadUserInput
from facade.graph.inputs import check_filters
from facade.graph.permissions import Guard
from facade.models import PageArgs, SortDirection, decode_cursor

F = TypeVar("F", bound=Callable[..., Any])

# Keys of a Strawberry field's metadata.
EDGE = "facade.edge"  # an EdgeSpec
NEED = "facade.need"  # a root field's Need
GUARD = "facade.guard"  # a private field's Guard
HELD = "facade.held"  # a payload's field holding a record: the attribute's name

# On a plain method resolver: the one attribute of the object it answers as it is (an id as an
# ID), which a compiled plan reads directly instead of calling the method.
READS = "__facade_reads__"


def reads(attribute: str) -> Callable[[F], F]:
    """Marks a `self`-only resolver as answering `self.<attribute>` as the field's scalar (the
    leaf's own coercion, str() for an int ID, makes it so): see READS."""

    def mark(function: F) -> F:
        setattr(function, READS, attribute)
        return function

    return mark


@dataclass(frozen=True, slots=True)
class EdgeSpec:
    """An edge as data: `loader` on Loaders resolves `getattr(parent, key)`.

    `embedded` names an attribute of the parent that may already hold the target record as the
    source sent it (a FLECS product's store), truthful for the target's GraphQL fields in
    `covers`: where a selection on the edge reads only those (and `__typename`), and the parent
    holds one, the edge answers from it without a load. The target's record rule applies all the
    same."""

    loader: str
    key: str
    guard: Guard | None = None
    paged: bool = False
    sort: type[enum.Enum] | None = None
    filters: tuple[tuple[str, Any, Any], ...] = ()  # (argument, type, default)
    fixed: tuple[Any, ...] = ()  # filter values fixed by the edge itself (e.g. apps only)
    embedded: str | None = None
    covers: frozenset[str] = frozenset()

    def page_key(self, settings: Any, kwargs: dict[str, Any]) -> tuple[Any, ...]:
        """What follows the parent in a paged edge's loader key, from the field's coerced (Python)
        arguments: the one rule of the standard resolver and the stage walker. BadUserInput for an
        argument out of its range."""
        page = make_page_args(
            settings, kwargs.get("first"), kwargs.get("after"), kwargs.get("sort_by"), kwargs.get("sort_direction")
        )
        values = tuple(_hashable(kwargs.get(name, default)) for name, _, default in self.filters)
        check_filters(self.filters, values)
        return (page, *self.fixed, *values)


def make_page_args(
    settings: Any, first: Any, after: str | None, sort: enum.Enum | None, direction: SortDirection | None
) -> PageArgs:
    """A list's PageArgs from its connection arguments (`first` items after the cursor `after`,
    sorted): BadUserInput when `first` is outside 0..FACADE_MAX_PAGE_SIZE."""
    limit = settings.default_page_size if first is None else first
    if not isinstance(limit, int) or limit < 0 or limit > settings.max_page_size:
        raise BadUserInput(f"`first` must be between 0 and {settings.max_page_size}.", field="first")
    return PageArgs(
        limit=limit,
        offset=decode_cursor(after) + 1 if after else 0,
        sort=sort.value if sort is not None else "id",
        direction=direction or SortDirection.ASC,
    )


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


__all__ = ["EDGE", "GUARD", "HELD", "NEED", "READS", "EdgeSpec", "make_page_args", "reads"]
