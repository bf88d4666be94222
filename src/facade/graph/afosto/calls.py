"""The one road from a generated Afosto field to the Afosto API: the generated resolvers
(`generated/fields.py`) are one line each, naming their operation and passing their arguments
here, and this module sends them through the request's backend (`info.context.backend.afosto`,
the generic call routed as `afosto.call`) and shapes the answer for the schema:

    one, many, scalar, json   the value the backend read (generated records, as decoded)
    many, paged by x-page     a connection: `first` is x-page-size (25 by default), `after` a
                              cursor this module handed out; `totalCount` is x-count where sent
    binary                    AfostoBinary (content type, base64)
    ack                       AfostoAck (status, x-task-id)

Cursors are opaque and page-level: Afosto pages by number, so every edge of a page carries the
cursor of the page after it (`endCursor`), and `after` resumes at that page with the page size
it was made with.

Arguments: a root mutation's are checked by its permission (`base.guarded`); a namespace field
(`afosto { odr { order(id:) } }`) checks its own here, before anything is sent (fields marked
`CHECKED`). Input objects become Afosto's JSON by their documented keys (`INPUT_KEYS` where the
GraphQL name differs), enums by their documented values, times as ISO 8601.

May import the graph's base and inputs, the Afosto scalars and the Afosto operation record, and
who a local-mode call acts for (`local.py`).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import enum
import keyword
from collections.abc import Mapping
from typing import Any

import strawberry
from strawberry.types.base import has_object_definition

from facade.backends.upstream.afosto.operation import AfostoAnswer, Operation
from facade.errors import BadUserInput
from facade.graph.afosto.local import local_credentials
from facade.graph.afosto.rules import DEFAULT_PAGE_SIZE
from facade.graph.afosto.scalars import AfostoAck, AfostoBinary
from facade.graph.base import PageInfo
from facade.graph.inputs import check_arguments

__all__ = ["CHECKED", "RESERVED", "call", "connection", "python_name"]

# Metadata of a namespace field whose resolver checks its own arguments (tests/graph/test_inputs.py).
CHECKED = "facade.afosto.checks_arguments"
# Argument names a generated resolver cannot take as they stand.
RESERVED = frozenset({"self", "info", "body", "first", "after", "checked", "operation"})
CURSOR_PREFIX = "afosto:"


def python_name(argument: str) -> str:
    """The resolver's parameter for a documented argument (the generator follows this rule)."""
    return argument + "_" if keyword.iskeyword(argument) or argument in RESERVED else argument


def to_json(value: Any, keys: Mapping[str, Mapping[str, str]]) -> Any:
    """An argument's value as Afosto's JSON: input objects by their documented keys (unset
    fields left out), enums by value, times and dates as ISO 8601."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [to_json(item, keys) for item in value]
    if has_object_definition(value):
        renamed = keys.get(type(value).__name__, {})
        return {
            renamed.get(f.python_name, f.python_name): to_json(item, keys)
            for f in value.__strawberry_definition__.fields
            if (item := getattr(value, f.python_name, strawberry.UNSET)) is not strawberry.UNSET
        }
    return value


def _arguments(operation: Operation, values: Mapping[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for param in operation.params:
        if param.argument:
            value = values.get(python_name(param.argument))
            if value is not None:
                found[param.name] = value.value if isinstance(value, enum.Enum) else value
    return found


async def _send(
    info: Any,
    operation: Operation,
    body: Any,
    values: dict[str, Any],
    keys: Mapping[str, Mapping[str, str]],
    checked: bool,
    page: int | None = None,
    size: int | None = None,
) -> AfostoAnswer:
    if not checked:
        check_arguments(info._field.arguments, values)
    authorization = await local_credentials(info, operation)
    backend = info.context.backend.afosto
    sent = to_json(body, keys) if body is not None else None
    arguments = _arguments(operation, values)
    if authorization is None:
        answer: AfostoAnswer = await backend.call(operation, arguments, sent, page=page, page_size=size)
    else:
        answer = await backend.call(operation, arguments, sent, page=page, page_size=size, authorization=authorization)
    return answer


async def call(
    info: Any,
    operation: Operation,
    keys: Mapping[str, Mapping[str, str]],
    body: Any = None,
    *,
    checked: bool = False,
    **values: Any,
) -> Any:
    """An operation that answers a value, bytes or an acknowledgement."""
    all_values = {**values, "body": body} if body is not None else values
    answer = await _send(info, operation, body, all_values, keys, checked)
    if operation.answer == "ack":
        return AfostoAck(status=answer.status, task_id=answer.task_id)
    if operation.answer == "binary":
        content = answer.value if isinstance(answer.value, bytes) else b""
        return AfostoBinary(content_type=answer.content_type, base64=base64.b64encode(content).decode("ascii"))
    return answer.value


def encode_cursor(page: int, size: int) -> str:
    return base64.urlsafe_b64encode(f"{CURSOR_PREFIX}{page}:{size}".encode()).decode("ascii")


def decode_cursor(cursor: str) -> tuple[int, int]:
    try:
        text = base64.urlsafe_b64decode(cursor.encode("ascii")).decode("ascii")
        page, size = text.removeprefix(CURSOR_PREFIX).split(":")
        if not text.startswith(CURSOR_PREFIX) or int(page) < 1 or int(size) < 1:
            raise ValueError(text)
        if encode_cursor(int(page), int(size)) != cursor:  # only the text encode_cursor writes
            raise ValueError(text)
        return int(page), int(size)
    except (ValueError, UnicodeError, binascii.Error):
        raise BadUserInput("`after` is not a cursor of this list.", field="after") from None


async def connection(
    info: Any,
    operation: Operation,
    keys: Mapping[str, Mapping[str, str]],
    connection_type: Any,
    edge_type: Any,
    body: Any = None,
    *,
    first: int | None = None,
    after: str | None = None,
    checked: bool = False,
    **values: Any,
) -> Any:
    """A list Afosto pages by x-page/x-page-size, as a connection."""
    all_values = {**values, "first": first, "after": after}
    if body is not None:
        all_values["body"] = body
    if after is not None:
        page, size = decode_cursor(after)
        if first is not None and first != size:
            raise BadUserInput("`first` must be the page size the cursor was made with.", field="first")
    else:
        page, size = 1, first or DEFAULT_PAGE_SIZE
    answer = await _send(info, operation, body, all_values, keys, checked, page, size)
    items = list(answer.value or ())
    if answer.count is not None:
        more = page * size < answer.count
    elif answer.page is not None:
        more = answer.page > page  # Afosto names the next page while there is one
    else:
        more = len(items) >= size
    cursor = encode_cursor(page + 1, size)
    return connection_type(
        edges=[edge_type(cursor=cursor, node=item) for item in items],
        nodes=items,
        page_info=PageInfo(
            has_next_page=more,
            has_previous_page=page > 1,
            start_cursor=cursor if items else None,
            end_cursor=cursor if items else None,
        ),
        total_count=answer.count,
    )
