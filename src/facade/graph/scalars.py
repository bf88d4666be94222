"""The schema's scalar map (`StrawberryConfig(scalar_map=SCALAR_MAP)`): the generated Afosto
types' Int64, and DateTime as Strawberry reads it with one check more.

A `DateTime` with an offset is kept and compared as its UTC instant (prices in effect at
`activeAt`, timestamps stored in UTC). Python's datetime holds years 1 to 9999 only, so a value
at either end whose offset carries it past them (`0001-01-01T00:00:00+14:00`) cannot become one:
it is refused where it is read, as a value that is not a DateTime (`BAD_USER_INPUT` for a
variable, `GRAPHQL_VALIDATION_FAILED` for a literal), instead of failing the field later.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from strawberry.exceptions import StrawberryInputCoercionError
from strawberry.schema.types.base_scalars import DateTimeDefinition
from strawberry.types.scalar import ScalarDefinition

from facade.graph.afosto.scalars import SCALARS

_read = DateTimeDefinition.parse_value  # Strawberry's: ISO 8601 text, else a coercion error


def parse_datetime(value: Any) -> dt.datetime:
    """A DateTime input as Strawberry reads it; a coercion error as Strawberry words its own
    when the value's UTC instant is outside years 1 to 9999."""
    parsed: dt.datetime = _read(value)  # type: ignore[misc]
    if parsed.utcoffset():
        try:
            parsed.astimezone(dt.UTC)
        except OverflowError:
            raise StrawberryInputCoercionError(
                f'Value cannot represent a DateTime: "{value}". Its UTC instant is outside the years 1 to 9999.'
            ) from None
    return parsed


DATE_TIME = ScalarDefinition(
    name=DateTimeDefinition.name,
    description=DateTimeDefinition.description,
    specified_by_url=DateTimeDefinition.specified_by_url,
    serialize=DateTimeDefinition.serialize,
    parse_value=parse_datetime,
    parse_literal=None,
    origin=dt.datetime,
)

SCALAR_MAP: dict[object, ScalarDefinition] = {**SCALARS, dt.datetime: DATE_TIME}
