"""The HTTP layer every upstream client shares: one pooled `httpx.AsyncClient` per API and
process, timeouts, retries of idempotent GETs within the request's deadline, credentials forwarded
from an allow-list, identical GETs made once per GraphQL request, and upstream statuses mapped to
facade's error codes.

    status          error (code)
    400, 422        BadUserInput      BAD_USER_INPUT
    401             Unauthenticated   UNAUTHENTICATED
    403             Forbidden         FORBIDDEN
    404             NotFound          NOT_FOUND
    409             Conflict          CONFLICT
    429             RateLimited       RATE_LIMITED
    5xx, bad JSON,  UpstreamError     UPSTREAM_ERROR
    dropped
    timeout         UpstreamTimeout   UPSTREAM_TIMEOUT

Clients see facade's message, never the upstream's body; the body's reason is logged at debug
level (it is the upstream's text, not a credential). Writes are never retried.

Time: a GraphQL request has one deadline (facade/deadline.py), carried by its scope. Each attempt
may take min(timeout, time left), all of it (connecting, sending, reading the body) counted. A GET
is retried (after a 429, 502, 503, 504, a timeout or a failed connection) only while the wait
before the retry and `min_attempt` seconds of attempt still fit before the deadline; a Retry-After
(seconds or an HTTP date) longer than `max_retry_after` or than what is left is not waited for:
the status is answered at once (RATE_LIMITED carries `retryAfter`). Once the deadline has passed no
call is started: UPSTREAM_TIMEOUT. One attempt is one call at the upstream: the transport itself
never retries (see `SingleAttemptTransport`).

The transport: httpx's own pool slows down as concurrency rises on this kind of machine
(research/perf-baseline.md: 394 req/s at 32 tasks against 3,695 through aiohttp), so by default
requests go through an aiohttp transport behind the httpx API (`httpx-aiohttp`).
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import math
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
import orjson
from aiohttp import ClientSession
from httpx_aiohttp import AiohttpTransport

from facade.deadline import Deadline
from facade.errors import (
    BadUserInput,
    Conflict,
    FacadeError,
    Forbidden,
    NotFound,
    RateLimited,
    Unauthenticated,
    UpstreamError,
    UpstreamTimeout,
)

log = logging.getLogger("facade.upstream")

Transport = Literal["aiohttp", "httpx"]
RETRYABLE = frozenset({429, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class HttpSettings:
    timeout: float = 10.0
    connect_timeout: float = 3.0
    max_connections: int = 100
    retries: int = 2
    backoff: float = 0.2
    max_retry_after: float = 5.0
    # The least time worth starting an attempt with: a retry that would get less is not made.
    min_attempt: float = 0.05
    transport: Transport = "aiohttp"


@dataclass(eq=False, slots=True)
class RequestScope:
    """What one GraphQL request lends its upstream calls: the caller's allow-listed headers
    (lower-case names), its deadline (None: each attempt has only the client's timeout) and the
    GETs already made (or in flight), so identical GETs are sent once. Made per request by the
    composed backend's `bind` and handed to the clients bound to that request; plain attributes,
    dropped with the request."""

    headers: dict[str, str] = field(default_factory=dict)
    deadline: Deadline | None = None
    gets: dict[tuple[Any, ...], asyncio.Future[UpstreamResponse]] = field(default_factory=dict)

    @classmethod
    def of(cls, headers: Mapping[str, str], allowed: frozenset[str], deadline: Deadline | None = None) -> RequestScope:
        """The scope of a request with these headers: only the `allowed` (lower-case) are kept."""
        return cls({k.lower(): v for k, v in headers.items() if k.lower() in allowed}, deadline)

    def bearer(self) -> str | None:
        """The caller's token, from the allow-listed `Authorization: Bearer` header, or None."""
        scheme, _, token = self.headers.get("authorization", "").partition(" ")
        return (token.strip() or None) if scheme.lower() == "bearer" else None


@dataclass(frozen=True, slots=True)
class UpstreamResponse:
    status: int
    headers: httpx.Headers
    content: bytes

    def json(self, api: str) -> Any:
        try:
            return orjson.loads(self.content) if self.content else None
        except orjson.JSONDecodeError:
            raise UpstreamError(f"The {api} answered with a body that is not JSON.", upstream=api) from None


class SingleAttemptTransport(AiohttpTransport):
    """httpx-aiohttp's transport, with aiohttp's own retry turned off.

    aiohttp's `ClientSession` sends an idempotent request (GET, HEAD, OPTIONS, TRACE, PUT,
    DELETE) a second time when the connection fails under it (`ServerDisconnectedError`,
    `ClientOSError`), on a fresh connection as on a kept-alive one, and has no public switch for
    it (aio-libs/aiohttp#10790): one of our attempts reached the upstream twice, and a PUT or
    DELETE could be applied twice. `_retry_connection` is the flag aiohttp's own test client
    clears; the retries that remain are ours, counted against the request's deadline.
    """

    def get_client(self) -> ClientSession:
        session = super().get_client()
        if not hasattr(session, "_retry_connection"):  # pragma: no cover - aiohttp renamed it
            raise RuntimeError("aiohttp no longer has ClientSession._retry_connection: review SingleAttemptTransport")
        session._retry_connection = False
        return session


def make_transport(settings: HttpSettings) -> httpx.AsyncBaseTransport:
    limits = httpx.Limits(max_connections=settings.max_connections, max_keepalive_connections=settings.max_connections)
    if settings.transport == "aiohttp":
        return SingleAttemptTransport(limits=limits)
    # httpcore retries only failed connects, and only when asked to (`retries`, 0 by default).
    return httpx.AsyncHTTPTransport(limits=limits)


def retry_after(headers: httpx.Headers, cap: float = math.inf) -> float | None:
    """Seconds a Retry-After header asks for (delay-seconds or an HTTP date), at most `cap`;
    None when there is no header or it is neither."""
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None  # neither seconds nor an HTTP date: back off as usual
        seconds = when.timestamp() - time.time()
    return max(0.0, min(seconds, cap))


def error_for(api: str, response: UpstreamResponse) -> FacadeError:
    status = response.status
    ext: dict[str, Any] = {"upstream": api, "status": status}
    if log.isEnabledFor(logging.DEBUG):
        log.debug("%s answered %s: %.300r", api, status, response.content)
    if status in (400, 422):
        return BadUserInput(f"The {api} refused the request as invalid.", **ext)
    if status == 401:
        return Unauthenticated(f"The {api} did not accept the credentials.", **ext)
    if status == 403:
        return Forbidden(f"The {api} does not allow this.", **ext)
    if status == 404:
        return NotFound(f"The {api} has no such item.", **ext)
    if status == 409:
        return Conflict(f"The {api} reports a conflict with the current state.", **ext)
    if status == 429:
        wait = retry_after(response.headers, 3600)
        if wait is not None:
            ext["retryAfter"] = math.ceil(wait)  # whole seconds, as facade's own RATE_LIMITED
        return RateLimited(f"The {api} asks us to slow down.", **ext)
    return UpstreamError(f"The {api} failed to answer.", **ext)


class UpstreamClient:
    """One REST API and process: base URL, pooled client, retries within a deadline. A request's
    calls go through `bind(scope)`, which adds its headers, deadline and GET de-duplication."""

    def __init__(
        self,
        api: str,
        base_url: str,
        settings: HttpSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.api = api
        self.settings = settings
        timeout = httpx.Timeout(settings.timeout, connect=settings.connect_timeout)
        self.http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            timeout=timeout,
            transport=transport or make_transport(settings),
            headers={"Accept": "application/json", "User-Agent": "facade"},
        )

    async def aclose(self) -> None:
        await self.http.aclose()

    def bind(self, scope: RequestScope) -> BoundClient:
        """This API's client as one request uses it (its headers, deadline and GETs)."""
        return BoundClient(self, scope)

    async def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None,
        headers: dict[str, str],
        json: Any = None,
        retry: bool,
        deadline: Deadline | None,
    ) -> UpstreamResponse:
        """One request to the API with facade's retries: the response, or the error of the last
        attempt; retried (`retry`) within `deadline`. Parts call it through a `BoundClient`."""
        retries = self.settings.retries if retry else 0
        content = orjson.dumps(json) if json is not None else None
        if content is not None:
            headers = {**headers, "Content-Type": "application/json"}
        request = self.http.build_request(method, path, params=params, headers=headers, content=content)
        attempt = 0
        while True:
            outcome = await self._attempt(request, deadline)
            if isinstance(outcome, UpstreamResponse) and outcome.status not in RETRYABLE:
                return outcome
            wait = self._wait_before_retry(outcome, attempt) if attempt < retries else None
            if wait is None or (deadline is not None and not deadline.covers(wait + self.settings.min_attempt)):
                break
            if log.isEnabledFor(logging.DEBUG):  # each retry is a further call at the upstream
                gave = outcome.status if isinstance(outcome, UpstreamResponse) else outcome.code
                log.debug(
                    "%s %s %s: attempt %d gave %s, retrying in %.3f s", self.api, method, path, attempt + 1, gave, wait
                )
            await asyncio.sleep(wait)
            attempt += 1
        if isinstance(outcome, UpstreamResponse):
            return outcome
        raise outcome

    async def _attempt(self, request: httpx.Request, deadline: Deadline | None) -> UpstreamResponse | FacadeError:
        """One call, given min(timeout, time left) in all; its failure as the error to raise."""
        budget = self.settings.timeout if deadline is None else min(self.settings.timeout, deadline.left())
        if budget <= 0:
            return UpstreamTimeout(f"The {self.api} was not called: the request's time is up.", upstream=self.api)
        try:
            # httpx's timeouts bound each phase (connect, each read); this bounds the whole call.
            async with asyncio.timeout(budget):
                raw = await self.http.send(request)
        except TimeoutError:
            return UpstreamTimeout(f"The {self.api} did not answer in time.", upstream=self.api)
        except httpx.TimeoutException as exc:
            if _dropped(exc):
                return UpstreamError(f"The {self.api} closed the connection.", upstream=self.api)
            return UpstreamTimeout(f"The {self.api} did not answer in time.", upstream=self.api)
        except httpx.HTTPError:
            return UpstreamError(f"The {self.api} could not be reached.", upstream=self.api)
        return UpstreamResponse(status=raw.status_code, headers=raw.headers, content=raw.content)

    def _wait_before_retry(self, outcome: UpstreamResponse | FacadeError, attempt: int) -> float | None:
        """Seconds to wait before the next attempt; None: answer now (the upstream asked for a
        longer pause than facade waits)."""
        if isinstance(outcome, UpstreamResponse):
            asked = retry_after(outcome.headers)
            if asked is not None:
                return asked if asked <= self.settings.max_retry_after else None
        # Exponential backoff with full jitter, so retrying callers do not stampede.
        return random.uniform(0, self.settings.backoff * 2**attempt)


class BoundClient:
    """An `UpstreamClient` bound to one request's `RequestScope`: what the API's parts call.
    Cheap to make (two references); the pooled connections stay the process's."""

    __slots__ = ("api", "client", "scope")

    def __init__(self, client: UpstreamClient, scope: RequestScope) -> None:
        self.client = client
        self.api = client.api
        self.scope = scope

    def _headers(self, extra: Mapping[str, str] | None, forward: tuple[str, ...]) -> dict[str, str]:
        scope = self.scope
        headers = {name: scope.headers[name] for name in forward if name in scope.headers}
        if extra:
            headers.update(extra)
        return headers

    async def get(
        self,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        forward: tuple[str, ...] = ("authorization",),
        ok: tuple[int, ...] = (200,),
    ) -> UpstreamResponse:
        """A GET, made once per request whatever number of fields ask for it, and retried."""
        sent = self._headers(headers, forward)
        key = (self.api, path, tuple(sorted((params or {}).items())), tuple(sorted(sent.items())))
        gets = self.scope.gets
        pending = gets.get(key)
        if pending is None:
            call = self.client.call("GET", path, params=params, headers=sent, retry=True, deadline=self.scope.deadline)
            pending = gets[key] = asyncio.ensure_future(call)
        response = await asyncio.shield(pending)
        if response.status not in ok:
            raise error_for(self.api, response)
        return response

    async def send(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        forward: tuple[str, ...] = ("authorization",),
        ok: tuple[int, ...] = (200, 201, 204),
    ) -> UpstreamResponse:
        """A write: sent once, never retried (the upstream may have applied it)."""
        sent = self._headers(headers, forward)
        # A write may change what earlier GETs of this request answered: read afresh after it.
        self.scope.gets.clear()
        response = await self.client.call(
            method, path, params=params, headers=sent, json=json, retry=False, deadline=self.scope.deadline
        )
        if response.status not in ok:
            raise error_for(self.api, response)
        return response


def _dropped(exc: BaseException) -> bool:
    """aiohttp reports a connection closed mid-request as a connect timeout; tell them apart."""
    cause = exc.__cause__
    return cause is not None and type(cause).__name__ in ("ServerDisconnectedError", "ClientOSError")
