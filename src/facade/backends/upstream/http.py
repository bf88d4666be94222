"""The HTTP layer every upstream client shares: one pooled `httpx.AsyncClient` per API and
process, timeouts, retries of reads within the request's deadline, credentials forwarded from an
allow-list, identical reads made once per GraphQL request, and upstream statuses mapped to
facade's error codes.

What differs between APIs is an `ApiPolicy` the client is given (Apollo RESTDataSource's
`requestDeduplicationPolicyFor`, `willSendRequest` and `errorFromResponse`, as hooks):

- `is_read(method, path)`: a read is de-duplicated within the request (same method, path, query,
  forwarded headers and body: one call), retried, and leaves the request's earlier reads alone;
  anything else is a write: sent every time, never retried, and it clears the request's reads.
  By default a GET (`get`) reads and every other call (`send`) writes; an API declares the
  operations that differ (`reads`: a POST search that only reads; `writes`: a GET with side
  effects), as `METHOD /path/{param}` templates. A GET made with `send` is always made afresh
  (a read-back after a write).
- `authorize(scope, forward, extra)`: the headers a call sends: by default the allow-listed
  headers of the caller the operation forwards (`forward`), then its own (`extra`).
- `error_for(api, response)`: the error a refused call raises: by default the status table below,
  and the body's `error_fields` (an allow-list, short scalar values only) in `extensions`.

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

Clients see facade's message, never the upstream's body (only the fields its policy allow-lists);
the body's reason is logged at debug level (it is the upstream's text, not a credential). Writes
are never retried.

Time: a GraphQL request has one deadline (facade/deadline.py), carried by its scope. Each attempt
may take min(timeout, time left), all of it (connecting, sending, reading the body) counted. A read
is retried (after a 429, 502, 503, 504, a timeout or a failed connection) only while the wait
before the retry and `min_attempt` seconds of attempt still fit before the deadline; a Retry-After
(seconds or an HTTP date) longer than `max_retry_after` or than what is left is not waited for:
the status is answered at once (RATE_LIMITED carries `retryAfter`). Once the deadline has passed no
call is started: UPSTREAM_TIMEOUT. One attempt is one call at the upstream: the transport itself
never retries (see `AiohttpCalls`).

The transport: httpx's own pool slows down as concurrency rises on this kind of machine
(research/perf-baseline.md: 394 req/s at 32 tasks against 3,695 through aiohttp), so by default
requests go through aiohttp itself (`AiohttpCalls`); httpx serves `transport = "httpx"` and a
transport given to the client (a test's `httpx.MockTransport`, local mode's in-process Afosto).
"""

from __future__ import annotations

import asyncio
import email.utils
import functools
import logging
import math
import random
import re
import time
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
import orjson
from aiohttp import (
    ClientError,
    ClientOSError,
    ClientSession,
    ClientTimeout,
    DummyCookieJar,
    ServerDisconnectedError,
    TCPConnector,
)

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

# What every call sends, before its own headers: JSON is what facade reads; a compressed body is
# decoded as it is read (gzip and deflate: what httpx decodes without an extra package).
DEFAULT_HEADERS = {"Accept": "application/json", "Accept-Encoding": "gzip, deflate", "User-Agent": "facade"}

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
    reads already made (or in flight), so identical reads are sent once. Made per request by the
    composed backend's `bind` and handed to the clients bound to that request; plain attributes,
    dropped with the request."""

    headers: dict[str, str] = field(default_factory=dict)
    deadline: Deadline | None = None
    reads: dict[tuple[Any, ...], asyncio.Future[UpstreamResponse]] = field(default_factory=dict)

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
    headers: Mapping[str, str]  # case-insensitive (httpx's Headers, aiohttp's CIMultiDictProxy)
    content: bytes
    # What readers made of `content`, by what they read it as: a read shared by identical calls
    # of a request (`RequestScope.reads`) is decoded and read once, not once per caller.
    parsed: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)

    def json(self, api: str) -> Any:
        try:
            return orjson.loads(self.content) if self.content else None
        except orjson.JSONDecodeError:
            raise UpstreamError(f"The {api} answered with a body that is not JSON.", upstream=api) from None


def make_transport(settings: HttpSettings) -> httpx.AsyncBaseTransport:
    """httpx's own transport (`transport = "httpx"`); the default, aiohttp, is `AiohttpCalls`."""
    limits = httpx.Limits(max_connections=settings.max_connections, max_keepalive_connections=settings.max_connections)
    # httpcore retries only failed connects, and only when asked to (`retries`, 0 by default).
    return httpx.AsyncHTTPTransport(limits=limits)


def retry_after(headers: Mapping[str, str], cap: float = math.inf) -> float | None:
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


def error_for(api: str, response: UpstreamResponse, fields: frozenset[str] = frozenset()) -> FacadeError:
    """The error of a refused call, by status (the table above); the `fields` of a JSON object
    body go into its extensions when they are short scalars (nothing else of the body does)."""
    status = response.status
    ext: dict[str, Any] = {"upstream": api, "status": status}
    if fields:
        ext.update(_allowed(response, fields))
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


def _allowed(response: UpstreamResponse, fields: frozenset[str]) -> dict[str, Any]:
    try:
        body = orjson.loads(response.content) if response.content else None
    except orjson.JSONDecodeError:
        return {}
    if not isinstance(body, dict):
        return {}
    return {
        name: value
        for name in sorted(fields)
        if isinstance(value := body.get(name), int | str) and not isinstance(value, bool) and len(str(value)) <= 200
    }


def _templates(operations: frozenset[str]) -> dict[str, re.Pattern[str]]:
    """`METHOD /path/{param}` templates as one pattern per method."""
    paths: dict[str, list[str]] = {}
    for operation in operations:
        method, _, path = operation.partition(" ")
        pattern = "".join(
            "[^/]+" if part.startswith("{") else re.escape(part) for part in re.split(r"(\{[^}]*\})", path)
        )
        paths.setdefault(method.upper(), []).append(pattern)
    return {method: re.compile("(?:" + "|".join(found) + r")\Z") for method, found in paths.items()}


class ApiPolicy:
    """How one API's calls are told apart, authorised and read when they fail (see the module
    docstring). The defaults are FLECS's and Flow Retail's; an API that differs subclasses it or
    declares operations: `ApiPolicy(reads={"POST /products/search"})`."""

    def __init__(
        self,
        *,
        reads: frozenset[str] | set[str] = frozenset(),
        writes: frozenset[str] | set[str] = frozenset(),
        error_fields: frozenset[str] | set[str] = frozenset(),
    ) -> None:
        self.reads = frozenset(reads)
        self.writes = frozenset(writes)
        self.error_fields = frozenset(error_fields)
        self._reads = _templates(self.reads)
        self._writes = _templates(self.writes)

    def is_read(self, method: str, path: str) -> bool:
        """Whether a call may be de-duplicated and retried: a GET unless declared a write, any
        other method only when declared a read."""
        if method == "GET":
            declared = self._writes.get(method)
            return declared is None or declared.match(path) is None
        declared = self._reads.get(method)
        return declared is not None and declared.match(path) is not None

    def authorize(
        self, scope: RequestScope, forward: tuple[str, ...], extra: Mapping[str, str] | None
    ) -> dict[str, str]:
        """The headers a call sends: the caller's `forward` headers the request allows, then `extra`."""
        headers = {name: scope.headers[name] for name in forward if name in scope.headers}
        if extra:
            headers.update(extra)
        return headers

    def error_for(self, api: str, response: UpstreamResponse) -> FacadeError:
        return error_for(api, response, self.error_fields)


DEFAULT_POLICY = ApiPolicy()


class AiohttpCalls:
    """The default transport: facade's calls on one aiohttp `ClientSession` per API and process
    (made on first use, in the running loop), a pool of `max_connections`, the environment's
    proxy for the API (`_proxy_for`), no cookie jar
    (`DummyCookieJar`: one caller's upstream cookies never reach another's calls), redirects not
    followed, a gzip or deflate body decoded as it is read.

    aiohttp sends an idempotent request (GET, HEAD, OPTIONS, TRACE, PUT, DELETE) a second time
    when the connection fails under it (`ServerDisconnectedError`, `ClientOSError`), on a fresh
    connection as on a kept-alive one, and has no public switch for it (aio-libs/aiohttp#10790):
    one of our attempts reached the upstream twice, and a PUT or DELETE could be applied twice.
    `_retry_connection` is the flag aiohttp's own test client clears; the retries that remain are
    facade's, counted against the request's deadline."""

    def __init__(self, settings: HttpSettings, base_url: str) -> None:
        self.settings = settings
        self.session: ClientSession | None = None
        self.proxy = _proxy_for(base_url)

    def _session(self) -> ClientSession:
        if self.session is None or self.session.closed:
            connector = TCPConnector(limit=self.settings.max_connections)
            # facade's headers are the session's, merged by aiohttp into a call's own (none for
            # most reads), rather than a dict of them built and parsed again for every call.
            session = ClientSession(connector=connector, cookie_jar=DummyCookieJar(), headers=DEFAULT_HEADERS)
            if not hasattr(session, "_retry_connection"):  # pragma: no cover - aiohttp renamed it
                raise RuntimeError("aiohttp no longer has ClientSession._retry_connection: review AiohttpCalls")
            session._retry_connection = False
            self.session = session
        return self.session

    async def attempt(
        self,
        api: str,
        budget: float,
        method: str,
        url: str,
        params: Mapping[str, Any] | None,
        headers: dict[str, str],
        content: bytes | None,
    ) -> UpstreamResponse | FacadeError:
        """One call within `budget` seconds in all (connecting, sending, reading the body).
        `headers`: the call's own; facade's (DEFAULT_HEADERS) are the session's.

        The query is written into the URL here (`_encoded`: form-encoded as urllib's `urlencode`;
        yarl leaves some reserved characters as they are where httpx escapes them, `,` `/` `?`,
        which RFC 3986 reads the same), and
        the budget is aiohttp's own `total` timeout (never rounded up to whole seconds:
        `ceil_threshold`), where aiohttp's `params`, an `asyncio.timeout` around the call and a
        read timeout rescheduled per chunk cost a quarter of a call's CPU again: five FLECS pages
        at once, 105 us a call here against aiohttp's own 79 us before, 87 us now."""
        if params:
            url = f"{url}{'&' if '?' in url else '?'}{_encoded(params)}"
        # No sock_read: the budget is never more than the client's timeout, which it would be.
        timeout = ClientTimeout(total=budget, sock_connect=self.settings.connect_timeout, ceil_threshold=math.inf)
        try:
            async with self._session().request(
                method,
                url,
                headers=headers or None,
                data=content,
                allow_redirects=False,
                timeout=timeout,
                proxy=self.proxy,
            ) as raw:
                body = await raw.read()
        except TimeoutError:  # the budget, or aiohttp's connect or read timeout
            return UpstreamTimeout(f"The {api} did not answer in time.", upstream=api)
        except (ServerDisconnectedError, ClientOSError):
            return UpstreamError(f"The {api} closed the connection.", upstream=api)
        except ClientError:
            return UpstreamError(f"The {api} could not be reached.", upstream=api)
        return UpstreamResponse(status=raw.status, headers=raw.headers, content=body)

    async def aclose(self) -> None:
        if self.session is not None:
            await self.session.close()


def _proxy_for(base_url: str) -> str | None:
    """The proxy the environment names for an API's base URL (`HTTPS_PROXY`/`HTTP_PROXY`, unless
    `NO_PROXY` covers its host), as httpx's client reads them; looked up once per API, not per call
    (aiohttp's own `trust_env` also reads ~/.netrc on every request)."""
    parts = urllib.parse.urlsplit(base_url)
    proxy = urllib.request.getproxies().get(parts.scheme)
    if not proxy or not parts.hostname or urllib.request.proxy_bypass(parts.hostname):
        return None
    return proxy


_PLAIN = re.compile(r"[A-Za-z0-9_.~-]*").fullmatch


def _encoded(params: Mapping[str, Any]) -> str:
    """`_query(params)` form-encoded (urllib's `urlencode`, which it equals); a whole number, and
    a plain name or text (letters, digits, `_.~-`: ids, page sizes), written as it is."""
    quote = urllib.parse.quote_plus
    parts = []
    for name, value in params.items():
        key = name if _PLAIN(name) else quote(name)
        if type(value) is int:  # the usual value: a page, a size, an id
            parts.append(f"{key}={value}")
            continue
        for _, text in _query({name: value}):
            parts.append(f"{key}={text if _PLAIN(text) else quote(text)}")
    return "&".join(parts)


def _query(params: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Query parameters as httpx writes them: a list as the name repeated, true/false, None empty."""
    pairs: list[tuple[str, str]] = []
    for name, value in params.items():
        for item in value if isinstance(value, list | tuple) else (value,):
            text = "true" if item is True else "false" if item is False else "" if item is None else str(item)
            pairs.append((name, text))
    return pairs


class UpstreamClient:
    """One REST API and process: base URL, pooled client, retries within a deadline, the API's
    `policy`. A request's calls go through `bind(scope)`, which adds its headers, deadline and
    de-duplication."""

    def __init__(
        self,
        api: str,
        base_url: str,
        settings: HttpSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        policy: ApiPolicy = DEFAULT_POLICY,
    ) -> None:
        self.api = api
        self.settings = settings
        self.policy = policy
        self.base_url = base_url.rstrip("/")
        # The transport itself, not an `httpx.AsyncClient` around it: the client's layers (URL
        # merging, default headers, auth, redirects, hooks) cost 0.5 ms a call here, most of a
        # call, and its cookie jar would carry one caller's upstream cookies into the next
        # caller's calls. What facade needs of them is done below: the base URL, the headers,
        # each phase's timeout; redirects are not followed (a 3xx is the answer, as before).
        self.transport = transport or (None if settings.transport == "aiohttp" else make_transport(settings))
        # The default: aiohttp itself (`AiohttpCalls`), 0.2 ms a call less than through httpx's
        # objects and the httpx-aiohttp shim here, which parsed each URL twice.
        self.aiohttp = AiohttpCalls(settings, self.base_url) if self.transport is None else None
        self._timeouts = httpx.Timeout(settings.timeout, connect=settings.connect_timeout).as_dict()
        self._urls = functools.lru_cache(maxsize=4096)(httpx.URL)

    async def aclose(self) -> None:
        if self.aiohttp is not None:
            await self.aiohttp.aclose()
        if self.transport is not None:
            await self.transport.aclose()

    def url(self, path: str) -> str:
        """`path` under the base URL; an absolute URL as it is."""
        return path if "://" in path else f"{self.base_url}/{path.lstrip('/')}"

    def request(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        headers: Mapping[str, str],
        content: bytes | None,
    ) -> httpx.Request:
        """The request a call sends: `path` under the base URL (an absolute URL as it is; parsed
        once per distinct URL: the same list page, search or record is asked for again and
        again), `params` as its query, facade's headers, then `headers`."""
        url = self._urls(self.url(path))
        if params:
            url = url.copy_merge_params(params)
        sent = {**DEFAULT_HEADERS, **headers}
        return httpx.Request(method, url, headers=sent, content=content, extensions={"timeout": self._timeouts})

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
        content: bytes | None = None,
        retry: bool,
        deadline: Deadline | None,
    ) -> UpstreamResponse:
        """One request to the API with facade's retries: the response, or the error of the last
        attempt; retried (`retry`) within `deadline`. Parts call it through a `BoundClient`."""
        retries = self.settings.retries if retry else 0
        if content is not None:
            headers = {**headers, "Content-Type": "application/json"}
        request: httpx.Request | tuple[str, str, Mapping[str, Any] | None, dict[str, str], bytes | None]
        if self.aiohttp is not None:
            url = self.url(path)
            request = (method, url, params, headers, content)
        else:
            request = self.request(method, path, params, headers, content)
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

    async def _attempt(
        self,
        request: httpx.Request | tuple[str, str, Mapping[str, Any] | None, dict[str, str], bytes | None],
        deadline: Deadline | None,
    ) -> UpstreamResponse | FacadeError:
        """One call, given min(timeout, time left) in all; its failure as the error to raise."""
        budget = self.settings.timeout if deadline is None else min(self.settings.timeout, deadline.left())
        if budget <= 0:
            return UpstreamTimeout(f"The {self.api} was not called: the request's time is up.", upstream=self.api)
        if not isinstance(request, httpx.Request):
            assert self.aiohttp is not None
            return await self.aiohttp.attempt(self.api, budget, *request)
        assert self.transport is not None
        try:
            # httpx's timeouts bound each phase (connect, each read); this bounds the whole call.
            async with asyncio.timeout(budget):
                raw = await self.transport.handle_async_request(request)
                try:
                    content = await raw.aread()  # decoded as its Content-Encoding says
                finally:
                    await raw.aclose()
        except TimeoutError:
            return UpstreamTimeout(f"The {self.api} did not answer in time.", upstream=self.api)
        except httpx.TimeoutException as exc:
            if _dropped(exc):
                return UpstreamError(f"The {self.api} closed the connection.", upstream=self.api)
            return UpstreamTimeout(f"The {self.api} did not answer in time.", upstream=self.api)
        except httpx.HTTPError:
            return UpstreamError(f"The {self.api} could not be reached.", upstream=self.api)
        return UpstreamResponse(status=raw.status_code, headers=raw.headers, content=content)

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

    async def get(
        self,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        forward: tuple[str, ...] = ("authorization",),
        ok: tuple[int, ...] = (200,),
        json: Any = None,
    ) -> UpstreamResponse:
        """A GET: a read (made once per request whatever number of fields ask for it, and
        retried) unless the API's policy declares it a write. `json`: a body, for the few GETs
        documented with one (Afosto's `GET /cnt/filesystems/storages/{id}/list`); part of what
        makes two reads identical."""
        read = self.client.policy.is_read("GET", path)
        return await self._call("GET", path, json, params, headers, forward, ok, read=read)

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
        """A write, unless the API's policy declares the operation a read (a POST search): a
        write is sent once, never retried (the upstream may have applied it), and the request's
        reads are made afresh after it. A GET sent here is made afresh (a read-back after a write)."""
        read = method != "GET" and self.client.policy.is_read(method, path)
        return await self._call(method, path, json, params, headers, forward, ok, read=read)

    async def _call(
        self,
        method: str,
        path: str,
        json: Any,
        params: Mapping[str, Any] | None,
        headers: Mapping[str, str] | None,
        forward: tuple[str, ...],
        ok: tuple[int, ...],
        *,
        read: bool,
    ) -> UpstreamResponse:
        """The call: a `read` shared by identical calls of the request (method, path, query,
        headers sent, body) and retried; else a write. The policy's error unless one of `ok`."""
        policy = self.client.policy
        sent = policy.authorize(self.scope, forward, headers)
        content = orjson.dumps(json) if json is not None else None
        deadline = self.scope.deadline
        reads = self.scope.reads
        if read:
            key = (self.api, method, path, tuple(sorted((params or {}).items())), tuple(sorted(sent.items())), content)
            pending = reads.get(key)
            if pending is None:
                call = self.client.call(
                    method, path, params=params, headers=sent, content=content, retry=True, deadline=deadline
                )
                pending = reads[key] = asyncio.ensure_future(call)
            response = await asyncio.shield(pending)
        else:
            # A write may change what earlier reads of this request answered: read afresh after it.
            reads.clear()
            response = await self.client.call(
                method, path, params=params, headers=sent, content=content, retry=False, deadline=deadline
            )
        if response.status not in ok:
            raise policy.error_for(self.api, response)
        return response


def _dropped(exc: BaseException) -> bool:
    """aiohttp reports a connection closed mid-request as a connect timeout; tell them apart."""
    cause = exc.__cause__
    return cause is not None and type(cause).__name__ in ("ServerDisconnectedError", "ClientOSError")
