"""What the graph accepts as input: one rule per argument and input field, declared where the
argument is declared and enforced from that declaration.

A rule is a `@constraint` schema directive (the names follow graphql-constraint-directive), so it
is printed in the exported SDL next to the argument it limits:

    registerDevice(clientId: String! @constraint(maxLength: 100), ...)

- strings (String, ID): at most `maxLength` characters (at least `minLength`), matching `pattern`
  whole when one is given, and never a control character (Unicode category Cc, or a lone surrogate,
  which no database stores); `multiline: true` lets tab, line feed and carriage return through.
- numbers: between `min` and `max`. A numeric ID (`NUMERIC_ID`) is a string of digits whose value
  is between `min` and `max`: at most 2^31 - 1, what a GraphQL Int and a PostgreSQL integer hold.
- lists: at most `maxItems` items, each checked by the same rule.
- JSON: its compact JSON encoding is at most `maxLength` characters.

`check_arguments` runs before every root resolver (base.guarded, on the standard and the compiled
path alike) and `check_value` on the filters of paged edges (base.EdgeSpec); a value the rule
refuses is `BadUserInput`, raised before anything is read or written. `tests/graph/test_inputs.py`
walks the schema and fails on any argument or input field whose type is a string, number or JSON
and that declares no rule, so a new argument cannot be forgotten.

Imports models, commerce (its limits) and errors; never a backend.
"""

from __future__ import annotations

import dataclasses
import json
import re
import typing
from collections.abc import Iterable, Sequence
from typing import Any

import strawberry
from strawberry.scalars import JSON
from strawberry.schema_directive import Location
from strawberry.types.arguments import StrawberryArgumentAnnotation
from strawberry.types.base import StrawberryList, StrawberryOptional, has_object_definition

from facade.commerce import IDEMPOTENCY_KEY_CHARACTERS, IDEMPOTENCY_KEY_LENGTH
from facade.errors import BadUserInput
from facade.models import INT32_MAX

# Control characters (Cc) and surrogates; tab, LF and CR are let through for multi-line text.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_CONTROL_MULTILINE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")

__all__ = [
    "INT32_MAX",
    "Constraint",
    "arg",
    "check_arguments",
    "check_filters",
    "check_value",
    "constraint_of",
    "limited",
]


@strawberry.schema_directive(
    locations=[Location.ARGUMENT_DEFINITION, Location.INPUT_FIELD_DEFINITION],
    name="constraint",
    description="What an argument or input field accepts; anything else is refused with BAD_USER_INPUT. Strings "
    "never accept control characters (multiline: tab, line feed and carriage return only).",
)
class Constraint:
    min_length: int | None = strawberry.UNSET
    max_length: int | None = strawberry.UNSET
    pattern: str | None = strawberry.UNSET
    min: int | None = strawberry.UNSET
    max: int | None = strawberry.UNSET
    max_items: int | None = strawberry.UNSET
    multiline: bool | None = strawberry.UNSET


def arg(rule: Constraint) -> StrawberryArgumentAnnotation:
    """The rule of an argument: `Annotated[str, arg(NAME)]`."""
    return strawberry.argument(directives=[rule])


def limited(rule: Constraint, default: Any = dataclasses.MISSING, *, description: str | None = None) -> Any:
    """An input type's field with its rule: `name: str | None = limited(NAME, None)`; without a
    default the field is required."""
    return strawberry.field(default=default, directives=[rule], description=description)


def constraint_of(directives: Iterable[Any]) -> Constraint | None:
    return next((d for d in directives if isinstance(d, Constraint)), None)


def _text(name: str, value: str, rule: Constraint) -> None:
    if rule.max_length and len(value) > rule.max_length:
        raise BadUserInput(f"`{name}` is longer than {rule.max_length} characters.", field=name)
    if rule.min_length and len(value) < rule.min_length:
        raise BadUserInput(f"`{name}` is shorter than {rule.min_length} characters.", field=name)
    control = (_CONTROL_MULTILINE if rule.multiline else _CONTROL).search(value)
    if control is not None:
        code = f"U+{ord(control.group()):04X}"
        raise BadUserInput(f"`{name}` contains a control character ({code}).", field=name)
    if rule.pattern and re.fullmatch(rule.pattern, value) is None:
        raise BadUserInput(f"`{name}` must match ^{rule.pattern}$.", field=name)
    if _bounded(rule):
        # A numeric ID: `pattern` has made it digits; its value must fit the range too.
        _number(name, int(value), rule)


def _bounded(rule: Constraint) -> bool:
    return isinstance(rule.min, int) or isinstance(rule.max, int)


def _number(name: str, value: float, rule: Constraint) -> None:
    low = rule.min if isinstance(rule.min, int) else None
    high = rule.max if isinstance(rule.max, int) else None
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = (
            f"between {low} and {high}"
            if low is not None and high is not None
            else (f"at least {low}" if low is not None else f"at most {high}")
        )
        raise BadUserInput(f"`{name}` must be {bounds}.", field=name)


def check_value(name: str, value: Any, rule: Constraint | None, type_: Any = None) -> None:
    """Checks one argument's value (as the resolver receives it) against its rule, and the fields
    of an input object against theirs; BadUserInput names the first value refused."""
    if value is None or value is strawberry.UNSET:
        return
    if _unwrap(type_) is JSON:
        # Any JSON value, bounded by the size of its encoding.
        if rule is not None and rule.max_length:
            if len(json.dumps(value, separators=(",", ":"), ensure_ascii=False)) > rule.max_length:
                raise BadUserInput(f"`{name}` is larger than {rule.max_length} characters of JSON.", field=name)
        return
    if isinstance(value, list | tuple):
        if rule is not None and rule.max_items and len(value) > rule.max_items:
            raise BadUserInput(f"`{name}` has more than {rule.max_items} items.", field=name)
        item_type = _item_type(type_)
        # An item's path holds its index, as GraphQL's response paths do (`prices.2.amount`), so
        # that a form can mark the row.
        for index, item in enumerate(value):
            check_value(f"{name}.{index}", item, rule, item_type)
        return
    if has_object_definition(value):
        for field in value.__strawberry_definition__.fields:
            inner = f"{name}.{field.graphql_name or _camel(field.python_name)}"
            check_value(inner, getattr(value, field.python_name, None), constraint_of(field.directives), field.type)
        return
    if rule is None:
        return
    if isinstance(value, bool):
        return
    if isinstance(value, str):
        _text(name, value, rule)
    elif isinstance(value, int | float):
        _number(name, value, rule)


def check_arguments(arguments: Sequence[Any], kwargs: dict[str, Any]) -> None:
    """Checks a field's arguments (Strawberry's `StrawberryArgument`s, each with its directives)
    in the resolver's keyword arguments."""
    for argument in arguments:
        if argument.python_name in kwargs:
            check_value(
                argument.graphql_name or _camel(argument.python_name),
                kwargs[argument.python_name],
                constraint_of(argument.directives),
                argument.type,
            )


def check_filters(filters: Sequence[tuple[str, Any, Any]], values: Sequence[Any]) -> None:
    """A paged edge's filter values (in declaration order) against the rules their annotations
    declare: `("store_id", Annotated[int | None, arg(STORE_ID)], None)`."""
    for (name, typ, _), value in zip(filters, values, strict=True):
        check_value(_camel(name), value, annotation_constraint(typ))


def annotation_constraint(annotation: Any) -> Constraint | None:
    """The rule in an `Annotated[..., arg(RULE)]` annotation (paged edges' filters)."""
    for extra in getattr(annotation, "__metadata__", ()):
        if isinstance(extra, StrawberryArgumentAnnotation):
            return constraint_of(extra.directives)
    return None


def _unwrap(type_: Any) -> Any:
    while isinstance(type_, StrawberryOptional):
        type_ = type_.of_type
    return type_


def _item_type(type_: Any) -> Any:
    type_ = _unwrap(type_)
    if isinstance(type_, StrawberryList):
        return type_.of_type
    args = [a for a in typing.get_args(type_) if a is not type(None)]
    return args[0] if args else None


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


# ---------------------------------------------------------------------------------------------
# The rules. Lengths follow the FLECS and Flow Retail contracts where they give one (uid patterns,
# the session UUID, semantic versions) and the local store's columns otherwise (a name is a
# VARCHAR(200) there), so what one backend accepts the other can hold.

UID = Constraint(pattern="[A-Za-z0-9_-]+", max_length=64)  # Flow Retail's UID, a VARCHAR(64) column
NUMERIC_ID = Constraint(pattern="[0-9]+", max_length=10, min=1, max=INT32_MAX)
# A global id (graph/nodes.py): base64 of `<Type>:<key>`, the longest key an AppManifest's (a
# 200-character app, a 100-character version, a 40-character schema version: 472 characters of
# base64); its characters hold a numeric source id's too, so an id argument that takes both has
# this rule.
GLOBAL_ID = Constraint(pattern="[A-Za-z0-9+/=]+", max_length=480)
# A device's or till's argument that takes its global id or, as before, its uid.
NODE_OR_UID = Constraint(pattern="[A-Za-z0-9_+/=-]+", max_length=400)
STORE_ID = Constraint(min=1)  # an Int: 32 bits by GraphQL already
NAME = Constraint(max_length=200)
SEARCH_TEXT = Constraint(max_length=200)
SYSTEM_INFORMATION = Constraint(max_length=4096, multiline=True)  # "like a uname -a response"
REVIEW_TEXT = Constraint(max_length=10_000, multiline=True)
RATING = Constraint(min=1, max=5)
CLIENT_ID = Constraint(max_length=100)
APP_ID = Constraint(max_length=200)
APP_VERSION = Constraint(max_length=100)
SEMVER = Constraint(max_length=40)  # the pattern is SEMVER_PATTERN, checked by check_semver
SESSION_ID = Constraint(pattern=r"[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}", max_length=36)
LICENSE_KEY = Constraint(max_length=64)
DEVICE_CODE = Constraint(max_length=64)
USER_CODE = Constraint(max_length=40)
USERNAME = Constraint(max_length=200)  # a login or an e-mail address
PASSWORD = Constraint(max_length=1024)
TOKEN = Constraint(max_length=8192)
ACCOUNT_TYPES = Constraint(max_length=20, max_items=10)
MANIFEST = Constraint(max_length=262_144)  # 256 kB of JSON; FLECS manifests are a few kB
MANUFACTURER_ID = Constraint(min=1)
PAGE_SIZE = Constraint(min=0)  # and at most FACADE_MAX_PAGE_SIZE (make_page_args)
CURSOR = Constraint(max_length=64)  # and one this API handed out (decode_cursor)
# Afosto's x-idempotency-key, wherever an argument sends it: the hand-modelled order mutations' and
# the generated operations' (graph/afosto/rules.py) are one rule, so a key one road takes every
# road takes (facade.commerce.IDEMPOTENCY_KEY_LENGTH says why 128), and the Afosto emulation checks
# the same (facade.commerce.checked_key).
IDEMPOTENCY_KEY = Constraint(pattern=IDEMPOTENCY_KEY_CHARACTERS, min_length=1, max_length=IDEMPOTENCY_KEY_LENGTH)
