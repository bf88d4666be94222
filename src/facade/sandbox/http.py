"""What both API skins of the sandbox share: JSON in and out, the caller a Bearer token names,
and reading a request body field by field.

Reading errors are FacadeErrors, so each API renders them in its own error shape: a missing or
mistyped field is `MalformedPayload` (a BadUserInput), which FLECS's `device/license` tells apart
from a well-formed but invalid value (400 versus 422). May import auth, errors, models, settings.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from facade.auth import Principal, TokenService, bearer_token
from facade.errors import BadUserInput, Unauthenticated

JSON = "application/json"
# A SQL integer column holds int64; a larger id names nothing rather than overflowing the driver.
INT64_MAX = 2**63 - 1


class MalformedPayload(BadUserInput):
    """The body is not what the operation reads: not JSON, a required field missing, a wrong type."""


def json_response(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type=JSON, headers=headers)


def empty_response(status: int, headers: Mapping[str, str] | None = None) -> Response:
    """A response without a body (204, or Flow's empty 200)."""
    return Response(b"", status_code=status, headers=headers)


async def read_json(request: Request) -> Any:
    """The decoded body; None for an empty one."""
    raw = await request.body()
    if not raw.strip():
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise MalformedPayload("Invalid payload: the body is not valid JSON") from None


async def read_object(request: Request, *, required: bool = True) -> dict[str, Any]:
    """The body as a JSON object; an empty body is `{}` when the body is optional."""
    body = await read_json(request)
    if body is None and not required:
        return {}
    if not isinstance(body, dict):
        raise MalformedPayload("Invalid payload: the body must be a JSON object")
    return body


_TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "a boolean", dict: "an object"}


def field(
    body: Mapping[str, Any],
    name: str,
    kind: type | tuple[type, ...],
    *,
    required: bool = True,
    label: str | None = None,
) -> Any:
    """`body[name]` checked to be of `kind` (never a boolean where a number is asked for); None
    when optional and absent or null. MalformedPayload names the field as the client wrote it."""
    label = label or name
    kinds = kind if isinstance(kind, tuple) else (kind,)
    value = body.get(name)
    if value is None:
        if required:
            raise MalformedPayload(f"Invalid payload: missing required field '{label}'", field=label)
        return None
    if int in kinds and isinstance(value, float) and value.is_integer():
        # JSON has one number type: 5.0 is an integer (as JSON Schema says), and orjson reads an
        # integer beyond 64 bits as a float.
        value = int(value)
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        expected = " or ".join(_TYPE_NAMES.get(k, k.__name__) for k in kinds)
        raise MalformedPayload(f"Invalid payload: '{label}' must be {expected}", field=label)
    return value


def int_param(request: Request, name: str) -> int | None:
    """An optional integer query parameter; BadUserInput when it is not one."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise BadUserInput(f"Invalid query parameter {name}: not an integer", field=name) from None


def optional_caller(request: Request) -> Principal | None:
    """The principal of the request's Bearer token, None without one; Unauthenticated when the
    header is malformed or the token expired or not signed with the shared secret."""
    token = bearer_token(request.headers.get("authorization"))
    if token is None:
        return None
    tokens: TokenService = request.app.state.tokens
    return tokens.verify(token)


def caller(request: Request) -> Principal:
    """The principal of the request's Bearer token, which must be there."""
    principal = optional_caller(request)
    if principal is None:
        raise Unauthenticated("Invalid or missing bearer token")
    return principal


def iso(stamp: dt.datetime) -> str:
    """ISO 8601 in UTC with milliseconds, as both APIs write times: 2025-07-28T10:30:00.000Z."""
    return stamp.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
