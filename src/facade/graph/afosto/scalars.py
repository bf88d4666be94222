"""What the generated Afosto types share: the Int64 scalar (the docs' `integer (int64)`, beyond
GraphQL's 32-bit Int), the acknowledgement of an operation that answers no body, and the answer
of one that answers bytes. A schema holding the generated types passes `SCALARS` as its
`StrawberryConfig(scalar_map=...)`.

Imports strawberry only.
"""

from __future__ import annotations

from typing import Any, NewType

import strawberry
from strawberry.types.scalar import ScalarDefinition

INT64_BOUND = 2**63


def _int64(value: Any) -> int:
    # Text as well as a number: a client in JavaScript cannot send every int64 as a number.
    number = int(value) if type(value) in (int, str) else None
    if number is None or not -INT64_BOUND <= number < INT64_BOUND:
        raise ValueError("Int64 must be an integer within 64 bits")
    return number


# The Python type of the scalar; a schema that holds Afosto types maps it with `SCALARS`
# (StrawberryConfig.scalar_map: Strawberry's way since it deprecated wrapping the type itself).
Int64 = NewType("Int64", int)

SCALARS: dict[object, ScalarDefinition] = {
    Int64: strawberry.scalar(
        name="Int64",
        description="A signed 64-bit integer (Afosto's int64), sent as a JSON number; accepted as a number or text.",
        serialize=_int64,
        parse_value=_int64,
    )
}


@strawberry.type(description="The answer of an Afosto operation that answers no body.")
class AfostoAck:
    status: int = strawberry.field(description="The HTTP status Afosto answered (202, 204, ...).")
    task_id: str | None = strawberry.field(
        description="The `x-task-id` of an operation Afosto carries out later (poll `GET /mes/tasks/{id}`)."
    )


@strawberry.type(description="An Afosto answer that is not JSON: an image, a PDF, a file.")
class AfostoBinary:
    content_type: str | None = strawberry.field(description="The media type Afosto sent.")
    base64: str = strawberry.field(description="The bytes, base64-encoded.")
