"""The record of one Afosto operation, as the generated table (`generated/operations.py`) lists
them: how to call it (method, path, parameters, body), what it answers (the payload reader and
the GraphQL type), how it pages, and where it lives in the graph.

A leaf: imports nothing of the project.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Location = Literal["path", "query", "header", "formData"]
# What a 2xx answers: a record, a list of records, a scalar or list of scalars, free-form JSON,
# bytes (an image, a PDF, a file), or no body (an acknowledgement: status and x-task-id).
Answer = Literal["one", "many", "scalar", "json", "binary", "ack"]
# How far the documentation types the operation (see the generator's module docstring).
Typing = Literal["full", "freeform", "partial", "untyped"]
# Where paging input goes: x-page/x-page-size headers, a body page_cursor, body offset/limit,
# query page/page_size.
Paging = Literal["headers", "cursor", "offset", "query"]


def to_camel(attr: str) -> str:
    """What Strawberry names an attribute (its to_camel_case): a parameter's GraphQL argument."""
    head, *rest = attr.split("_")
    return head + "".join(part.capitalize() if part else "_" for part in rest)


@dataclass(frozen=True, slots=True)
class Param:
    """One documented parameter. `argument` is its GraphQL argument (snake_case: Strawberry
    camelCases it), empty for the headers facade sets (Accept, Authorization) or turns into paging
    arguments (x-page, x-page-size); `type` the argument's GraphQL type without nullability
    (`String`, `Int`, `Boolean` for a 1|0 flag, `ID`, an `Afosto...` enum, `[String]`); `enum`
    the documented values as sent; `default` as documented (text)."""

    name: str
    location: Location
    argument: str
    type: str
    enum: tuple[str, ...] = ()
    default: str | None = None


@dataclass(frozen=True, slots=True)
class Operation:
    """One of the 544 operations. `field` is the GraphQL name: a field of `afosto { <service> }`
    for a read, a root mutation (prefixed `afosto`) for a write. `request` names the body's input
    type (`request_many`: the body is a list of them); `payload` the reader class of the answer
    in `generated/payloads.py` (None when the answer is not a record); `output` the GraphQL type
    of the answer without nullability."""

    method: str
    path: str
    service: str
    field: str
    read: bool
    title: str
    line: int
    params: tuple[Param, ...]
    request: str | None
    request_many: bool
    payload: str | None
    answer: Answer
    output: str
    status: int
    typing: Typing
    paging: Paging | None = None
    counted: bool = False
    cursor: bool = False
    task: bool = False
    idempotency_key: bool = False

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"


@dataclass(frozen=True, slots=True)
class AfostoAnswer:
    """What one Afosto call answered, as the graph reads it: the `status`; the `value` (a record,
    a list of records, a scalar, free-form JSON, bytes, or None for an acknowledgement) read once
    by the lean readers; the `content_type` of bytes; and the headers that carry meaning:
    `x-task-id` (an asynchronous operation's task), `x-count` (a list's total) and `x-page` (the
    page Afosto names next, or the one sent when there is none)."""

    status: int
    value: Any = None
    content_type: str | None = None
    task_id: str | None = None
    count: int | None = None
    page: int | None = None
