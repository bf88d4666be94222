"""The Afosto API client: one generic call for the 544 operations of the generated table, on the
shared upstream base (`upstream/base.py`, `upstream/http.py`).

    operation + arguments -> HTTP request -> body decoded once (orjson) -> generated record(s)

`AfostoOperations.call` puts each documented parameter where the table says (path, query,
header), sends the body as JSON, reads the answer by its kind (`one`/`many` through the lean
readers of `generated/payloads.py`, `scalar`/`json` as decoded, `binary` as bytes, `ack` as the
status alone) and keeps the headers that mean something (`x-task-id`, `x-count`, `x-page`).

`AfostoPolicy` is the API's hooks, derived from the table:

- a read is an operation the table marks `read` (a GET, or a POST search that only reads): it is
  de-duplicated within the request and retried; every other operation is a write. A concrete
  path is matched against the templates of its method, the most literal first (`/rel/search/
  address` before `/rel/{x}/address`), so one path has one operation;
- the caller's Afosto token travels in its own header, `X-Afosto-Authorization: Bearer ...`
  (`Authorization` carries facade's and FLECS's), and goes to Afosto as its `Authorization`;
  facade's own token never reaches Afosto. A caller without one is served with the service
  account's token when one is configured (`ServiceAccount`: client credentials from settings,
  the token fetched on first use, cached, and fetched afresh before it expires; neither the
  secret nor the token is logged or put in an error);
- a refusal is read by its status (401 UNAUTHENTICATED, 403 FORBIDDEN, 404 NOT_FOUND, ...), with
  Afosto's `reference` and its field errors (`errors: {kind: [property, ...]}`, short names only)
  in `extensions`; nothing else of the body reaches a client.

May import the upstream base, errors and the Afosto package; never strawberry.
"""

from __future__ import annotations

import asyncio
import functools
import re
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

import orjson

from facade.backends.upstream.afosto import readers
from facade.backends.upstream.afosto.generated import payloads
from facade.backends.upstream.afosto.generated.operations import OPERATIONS
from facade.backends.upstream.afosto.operation import AfostoAnswer, Operation, to_camel
from facade.backends.upstream.base import ApiPart
from facade.backends.upstream.http import (
    ApiPolicy,
    BoundClient,
    RequestScope,
    UpstreamClient,
    UpstreamResponse,
    error_for,
)
from facade.errors import BadUserInput, FacadeError, UpstreamError

__all__ = ["API", "CREDENTIALS_HEADER", "AfostoOperations", "AfostoPolicy", "ServiceAccount", "send"]

API = "Afosto API"
# The caller's Afosto token (lower case, as the request scope keeps header names).
CREDENTIALS_HEADER = "x-afosto-authorization"
FORWARD = (CREDENTIALS_HEADER,)
# Short names only: a field error names a property, never a value.
MAX_ERROR_NAMES = 20
MAX_NAME = 100


def _pattern(path: str) -> str:
    return "".join("[^/]+" if part.startswith("{") else re.escape(part) for part in re.split(r"(\{[^}]*\})", path))


class AfostoPolicy(ApiPolicy):
    """Afosto's hooks (see the module docstring), from the operation table."""

    def __init__(self, operations: tuple[Operation, ...] = OPERATIONS) -> None:
        super().__init__(error_fields={"reference"})
        by_method: dict[str, list[Operation]] = {}
        for operation in operations:
            by_method.setdefault(operation.method, []).append(operation)
        self.templates: dict[str, list[tuple[re.Pattern[str], bool]]] = {
            method: [
                (re.compile(_pattern(op.path) + r"\Z"), op.read)
                # The most literal template first: parameters match any segment.
                for op in sorted(found, key=lambda op: (op.path.count("{"), -op.path.count("/")))
            ]
            for method, found in by_method.items()
        }
        # A path's answer, kept: the match walks the method's templates (over a hundred for POST),
        # and a request's calls repeat a few paths (one per price group, the inventory search...).
        self._read = functools.lru_cache(maxsize=4096)(self._match)

    def is_read(self, method: str, path: str) -> bool:
        return self._read(method, path)

    def _match(self, method: str, path: str) -> bool:
        for pattern, read in self.templates.get(method, ()):
            if pattern.match(path):
                return read
        return method == "GET"  # not an operation of the table: as HTTP says

    def authorize(
        self, scope: RequestScope, forward: tuple[str, ...], extra: Mapping[str, str] | None
    ) -> dict[str, str]:
        headers = dict(extra or {})
        token = scope.headers.get(CREDENTIALS_HEADER) if CREDENTIALS_HEADER in forward else None
        if token and "Authorization" not in headers:  # credentials the call names itself win
            headers["Authorization"] = token
        return headers

    def error_for(self, api: str, response: UpstreamResponse) -> FacadeError:
        error = error_for(api, response, self.error_fields)
        fields = _field_errors(response.content)
        if fields:
            error.extensions["errors"] = fields
        return error


def _field_errors(content: bytes) -> dict[str, list[str]]:
    """Afosto's `errors: {kind: [property, ...]}`, kinds and properties as short names only."""
    try:
        body = orjson.loads(content) if content else None
    except orjson.JSONDecodeError:
        return {}
    errors = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(errors, dict):
        return {}
    found: dict[str, list[str]] = {}
    for kind, names in list(errors.items())[:MAX_ERROR_NAMES]:
        if isinstance(kind, str) and len(kind) <= MAX_NAME and isinstance(names, list):
            short = [n for n in names[:MAX_ERROR_NAMES] if isinstance(n, str) and len(n) <= MAX_NAME]
            if short:
                found[kind] = short
    return found


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def _header_int(response: UpstreamResponse, name: str) -> int | None:
    value = response.headers.get(name)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


TOKEN_PATH = "/iam/oauth/authorize"


class ServiceAccount:
    """Afosto client credentials (settings), for callers that send no Afosto token of their own
    (a backend-for-frontend): one token per process, fetched on first use with the
    `client_credentials` grant, and afresh when less than a tenth of its life (at most a minute)
    is left. Concurrent callers wait for one fetch. The secret and the token stay out of logs,
    reprs and errors."""

    def __init__(
        self, client_id: str, client_secret: str, scope: str | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._credentials = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret}
        if scope:
            self._credentials["scope"] = scope
        self._clock = clock
        self._token: str | None = None
        self._renew_at = 0.0
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return "ServiceAccount(<credentials hidden>)"

    async def authorization(self, client: BoundClient) -> str:
        """`Bearer <token>`, fetched when there is none or it is about to expire."""
        if self._token is not None and self._clock() < self._renew_at:
            return self._token
        async with self._lock:
            if self._token is not None and self._clock() < self._renew_at:
                return self._token
            response = await client.send("POST", TOKEN_PATH, json=self._credentials, forward=(), ok=(200, 201))
            body = response.json(API)
            token = body.get("access_token") if isinstance(body, dict) else None
            if not isinstance(token, str) or not token:
                raise UpstreamError(f"The {API} answered the service account without a token.", upstream=API)
            lifetime = body.get("expires_in")
            seconds = float(lifetime) if isinstance(lifetime, int | float) and lifetime > 0 else 3600.0
            self._token = f"Bearer {token}"
            self._renew_at = self._clock() + seconds - min(60.0, seconds / 10)
            return self._token


class AfostoOperations(ApiPart):
    """The one generic call of the Afosto API (routed as `afosto.call`); `account` serves the
    callers that send no Afosto token."""

    def __init__(self, upstream: UpstreamClient, account: ServiceAccount | None = None) -> None:
        super().__init__(upstream)
        self.account = account

    async def call(
        self,
        operation: Operation,
        arguments: Mapping[str, Any],
        body: Any = None,
        *,
        page: int | None = None,
        page_size: int | None = None,
        authorization: str | None = None,
    ) -> AfostoAnswer:
        """`authorization`, when given, is sent as the call's `Authorization` instead of the
        caller's Afosto token or the service account's (local mode: graph/afosto/local.py)."""
        return await send(
            self.client,
            self.account,
            operation,
            arguments,
            body,
            page=page,
            page_size=page_size,
            authorization=authorization,
        )


async def send(
    client: BoundClient,
    account: ServiceAccount | None,
    operation: Operation,
    arguments: Mapping[str, Any],
    body: Any = None,
    *,
    page: int | None = None,
    page_size: int | None = None,
    authorization: str | None = None,
    decoded: bool = False,
) -> AfostoAnswer:
    """One call of `operation` for the request `client` is bound to: each documented parameter of
    `arguments` where the table puts it, `body` as JSON, the paging headers, `authorization` or
    else the caller's Afosto token (or else the service account's); the answer read by its kind
    (see the module docstring), or with `decoded` the body as decoded JSON, for a caller that
    reads its records itself (the commerce backend's hottest searches)."""
    path = operation.path
    query: dict[str, str] = {}
    headers: dict[str, str] = {}
    for param in operation.params:
        value = arguments.get(param.name)
        if value is None:
            continue
        if param.location == "path":
            path = path.replace("{" + param.name + "}", quote(_text(value), safe=""))
        elif param.location == "header":
            headers[param.name] = _header_value(param, _text(value))
        elif isinstance(value, list | tuple):
            query[param.name] = ",".join(_text(v) for v in value)
        else:
            query[param.name] = _text(value)
    if authorization is not None:
        headers["Authorization"] = authorization
    elif account is not None and CREDENTIALS_HEADER not in client.scope.headers:
        headers["Authorization"] = await account.authorization(client)
    if page is not None:
        headers["x-page"] = str(page)
    if page_size is not None:
        headers["x-page-size"] = str(page_size)
    ok = (operation.status, *(s for s in (200, 201, 202, 204) if s != operation.status))
    params = query or None
    if operation.method == "GET":  # a read, de-duplicated, unless the table says it writes
        response = await client.get(path, params=params, headers=headers, forward=FORWARD, ok=ok, json=body)
    else:
        response = await client.send(
            operation.method, path, json=body, params=params, headers=headers, forward=FORWARD, ok=ok
        )
    return AfostoAnswer(
        status=response.status,
        value=response.json(client.api) if decoded else _value(operation, response, client.api),
        content_type=response.headers.get("content-type"),
        task_id=response.headers.get("x-task-id"),
        count=_header_int(response, "x-count"),
        page=_header_int(response, "x-page"),
    )


# What a header argument's value may be (RFC 9110 field-value, ASCII): visible characters, and
# spaces between them; not empty (an empty header is no value: an empty idempotency key made a
# second order). httpx refused anything else with an error of its own (a 500, or "could not be
# reached" for a leading space) and aiohttp sent other bytes as they came.
_HEADER_VALUE = re.compile(r"[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?").fullmatch


def _header_value(param: Any, text: str) -> str:
    """`text`, the value of a header parameter, if a header can carry it; else BadUserInput at
    its GraphQL argument (Strawberry's camelCase of `param.argument`)."""
    if _HEADER_VALUE(text):
        return text
    name = to_camel(param.argument or param.name)
    raise BadUserInput(
        f"`{name}` is sent as the `{param.name}` header: printable ASCII, not empty, without spaces at either end.",
        field=name,
    )


def _value(operation: Operation, response: UpstreamResponse, api: str) -> Any:
    answer = operation.answer
    if answer == "ack":
        return None
    if answer == "binary":
        return response.content
    if answer in ("one", "many") and operation.payload is not None:
        # Read once per response: a deduplicated read (the tenant check, the price groups) is
        # answered to each of its callers from the same response. The records are never changed
        # after reading; each caller gets a list of its own.
        key = (answer, operation.payload)
        held = response.parsed.get(key)
        if held is None:
            held = response.parsed[key] = _read(answer, getattr(payloads, operation.payload), response.json(api))
        return list(held) if answer == "many" else held[0]
    return response.json(api)


def _read(answer: str, cls: Any, body: Any) -> list[Any]:
    """A body read as `cls` records: every one for "many", else a list of the one (None for null)."""
    if answer == "many":
        return [] if body is None else readers.read_many(cls, body)
    return [None if body is None else readers.read_record(cls, body)]
