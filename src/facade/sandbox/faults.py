"""Faults the sandbox injects and the calls it counts, so facade's handling of a misbehaving
upstream is tested for real, over a socket.

A rule is (method or `*`, path glob, kind, probability or count). Kinds:

    latency:<ms>    wait, then answer normally (or let a later rule fail the call)
    status:<code>   answer <code> in the API's error shape; `retry_after` adds a Retry-After header
    drop            close the connection without a response
    malformed       200 with a truncated JSON body: {"statusCode": 200, "data":

Every matching latency rule adds its delay; the first matching rule of another kind ends the call.
A rule with a count fires for that many matching calls and is then spent; a probability makes each
matching call roll for it. Paths are matched as requested (`/api/v2/products?store_id=1` is the
path `/api/v2/products`), with `fnmatch` globs. A rule's `query` (`store_id=2&page=1`) narrows it
to calls that sent each of those parameters with a value matching its glob, so one call of a
batch can fail while its siblings answer (`GET /api/v2/products?store_id=2=status:404`).

The CLI spells rules as a comma-separated spec (`parse_faults`):

    [METHOD ]GLOB[?NAME=GLOB[&...]]=KIND[xCOUNT][@PROBABILITY][;retry_after=SECONDS]
    GET /api/v2/products*=status:503x2;retry_after=1,POST /v2/device=latency:3000,* /v2/*=drop@0.1

Tests change them at run time through the control routes, which exist only in the sandbox:

    GET    /__sandbox/faults   the rules (JSON list)
    POST   /__sandbox/faults   replace the rules: a JSON list of rule objects
                               {"method", "path", "query", "kind", "count", "probability",
                                "retry_after"}
                               or of spec strings
    DELETE /__sandbox/faults   remove every rule
    GET    /__sandbox/calls    {"calls": {"GET /api/v2/manifests/{app}/{version}": 3, ...}, "total": 3}
    DELETE /__sandbox/calls    reset the counts
    GET    /__sandbox/health   200 once the store is open

Calls are counted per method and route template (a path no route knows counts under itself),
faulted calls included; calls to /__sandbox are neither counted nor faulted. Imports only Starlette.
"""

from __future__ import annotations

import asyncio
import fnmatch
import random
import re
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import parse_qs, parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match, Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

CONTROL_PREFIX = "/__sandbox"
MALFORMED_BODY = b'{"statusCode": 200, "data": '

_KIND = re.compile(r"^(?:latency:(?P<ms>\d+)|status:(?P<status>[1-5]\d\d)|(?P<bare>drop|malformed))$")
_SPEC = re.compile(
    r"^(?:(?P<method>[A-Za-z]+|\*)\s+)?(?P<path>/[^\s?]*)(?:\?(?P<query>\S*?))?\s*=\s*"
    r"(?P<kind>latency:\d+|status:\d+|drop|malformed)"
    r"(?:x(?P<count>\d+))?(?:@(?P<probability>[0-9.]+))?(?:;retry[_-]after=(?P<retry_after>\d+))?$"
)

# Renders an injected status in the error shape of the API that owns the path.
ErrorRenderer = Callable[[str, int, str, Mapping[str, str] | None], Response]
Endpoint = Callable[[Request], Awaitable[Response]]


class FaultSpecError(ValueError):
    """A rule that cannot be understood; the message says which and why."""


@dataclass(slots=True)
class FaultRule:
    path: str
    kind: str
    method: str = "*"
    probability: float = 1.0
    count: int | None = None
    retry_after: int | None = None
    query: str | None = None
    # How many more calls a counted rule fires for; set from `count`.
    remaining: int | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        self.method = self.method.upper()
        if not self.path.startswith("/"):
            raise FaultSpecError(f"path must start with /: {self.path!r}")
        if _KIND.match(self.kind) is None:
            raise FaultSpecError(f"kind must be latency:<ms>, status:<code>, drop or malformed: {self.kind!r}")
        if not 0.0 <= self.probability <= 1.0:
            raise FaultSpecError(f"probability must be between 0 and 1: {self.probability}")
        if self.count is not None and self.count < 1:
            raise FaultSpecError(f"count must be at least 1: {self.count}")
        if self.retry_after is not None and self.retry_after < 0:
            raise FaultSpecError(f"retry_after must not be negative: {self.retry_after}")
        if self.query is not None and not all(name for name, _ in self.parameters):
            raise FaultSpecError(f"query must be NAME=GLOB pairs joined by &: {self.query!r}")
        self.remaining = self.count

    @property
    def parameters(self) -> list[tuple[str, str]]:
        """The query parameters a call must have sent (name, value glob)."""
        return parse_qsl(self.query or "", keep_blank_values=True)

    @property
    def latency_ms(self) -> int | None:
        match = _KIND.match(self.kind)
        return int(match["ms"]) if match and match["ms"] else None

    @property
    def status(self) -> int | None:
        match = _KIND.match(self.kind)
        return int(match["status"]) if match and match["status"] else None

    @property
    def spent(self) -> bool:
        return self.remaining is not None and self.remaining <= 0

    def matches(self, method: str, path: str, query: str = "") -> bool:
        if not ((self.method == "*" or self.method == method) and fnmatch.fnmatchcase(path, self.path)):
            return False
        if not self.query:
            return True
        sent = parse_qs(query, keep_blank_values=True)
        return all(any(fnmatch.fnmatchcase(v, glob) for v in sent.get(name, ())) for name, glob in self.parameters)

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        if self.query is None:
            del data["query"]  # a rule on every query reads as it always did
        return data

    @classmethod
    def from_json(cls, data: Any) -> FaultRule:
        if isinstance(data, str):
            return cls.parse(data)
        if not isinstance(data, dict):
            raise FaultSpecError("a rule is an object or a spec string")
        unknown = set(data) - {"method", "path", "query", "kind", "probability", "count", "retry_after", "remaining"}
        if unknown:
            raise FaultSpecError(f"unknown rule fields: {', '.join(sorted(unknown))}")
        try:
            return cls(
                path=str(data["path"]),
                kind=str(data["kind"]),
                method=str(data.get("method") or "*"),
                probability=float(data.get("probability", 1.0)),
                count=None if data.get("count") is None else int(data["count"]),
                retry_after=None if data.get("retry_after") is None else int(data["retry_after"]),
                query=None if data.get("query") is None else str(data["query"]),
            )
        except KeyError as missing:
            raise FaultSpecError(f"a rule needs {missing}") from None
        except (TypeError, ValueError) as err:
            raise FaultSpecError(f"a rule field has the wrong type: {err}") from None

    @classmethod
    def parse(cls, spec: str) -> FaultRule:
        match = _SPEC.match(spec.strip())
        if match is None:
            raise FaultSpecError(f"not a fault rule: {spec!r} (expected [METHOD ]GLOB=KIND[xN][@P][;retry_after=S])")
        return cls(
            path=match["path"],
            kind=match["kind"],
            method=match["method"] or "*",
            probability=float(match["probability"]) if match["probability"] else 1.0,
            count=int(match["count"]) if match["count"] else None,
            retry_after=int(match["retry_after"]) if match["retry_after"] else None,
            query=match["query"] or None,
        )


def parse_faults(spec: str) -> list[FaultRule]:
    """The rules of a comma-separated spec (the CLI's --faults); FaultSpecError for a bad one."""
    return [FaultRule.parse(part) for part in spec.split(",") if part.strip()]


class Faults:
    """The active rules. One event loop serves the sandbox, so no lock is needed."""

    def __init__(self, rules: Iterable[FaultRule] = (), *, seed: int | None = None) -> None:
        self._rules = list(rules)
        self._random = random.Random(seed)

    @property
    def rules(self) -> list[FaultRule]:
        return list(self._rules)

    def replace(self, rules: Iterable[FaultRule]) -> None:
        self._rules = list(rules)

    def clear(self) -> None:
        self._rules = []

    def draw(self, method: str, path: str, query: str = "") -> list[FaultRule]:
        """The rules that fire for one call: latency rules, then at most one ending rule."""
        fired: list[FaultRule] = []
        for rule in self._rules:
            if rule.spent or not rule.matches(method, path, query):
                continue
            if rule.probability < 1.0 and self._random.random() >= rule.probability:
                continue
            if rule.remaining is not None:
                rule.remaining -= 1
            fired.append(rule)
            if rule.latency_ms is None:
                break
        return fired


class CallLog:
    """Calls received, per `METHOD /route/{template}`."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()

    def record(self, method: str, template: str) -> None:
        self._counts[f"{method} {template}"] += 1

    def counts(self) -> dict[str, int]:
        return dict(sorted(self._counts.items()))

    def reset(self) -> None:
        self._counts.clear()


def route_template(routes: Iterable[BaseRoute], scope: Scope, prefix: str = "") -> str | None:
    """The path template of the route that answers `scope`; failing a full match, of the first
    route whose path matches (the call reached it, with the wrong method). A route that holds
    many templates answers through its `path_template(scope)`."""
    partial: str | None = None
    for route in routes:
        match, child = route.matches(scope)
        if match is Match.NONE:
            continue
        template = getattr(route, "path_template", None)
        if callable(template):
            # A route of many templates (the Afosto emulation) says which one a call reached.
            found: str | None = template(scope)
            return found
        if isinstance(route, Mount):
            inner = route_template(route.routes, {**scope, **child}, prefix + route.path)
            if inner is not None:
                return inner
        elif isinstance(route, Route):
            if match is Match.FULL:
                return prefix + route.path
            partial = partial or prefix + route.path
    return partial


class ConnectionDropped(Exception):
    """Raised when the server offers no way to close the connection: the call still fails."""


async def drop_connection(receive: Receive) -> None:
    """Closes the client's connection without a byte of response.

    ASGI has no message for this; returning without `http.response.start` makes uvicorn answer
    500 for us. uvicorn's `receive` is a method of its request cycle, which holds the transport:
    closing that transport and waiting until the server notices leaves it nothing to answer.
    Under another server, raising is the next best thing: the client sees an error either way.
    """
    cycle = getattr(receive, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None or not callable(getattr(transport, "close", None)):
        raise ConnectionDropped("fault injected: drop")
    transport.close()
    for _ in range(100):
        if getattr(cycle, "disconnected", True):
            return
        await asyncio.sleep(0)


class FaultsMiddleware:
    """Counts each call, then applies the faults that fire for it (pure ASGI, outermost but for
    Starlette's error middleware, so `receive` is still the server's own)."""

    def __init__(self, app: ASGIApp, faults: Faults, calls: CallLog, render_error: ErrorRenderer) -> None:
        self.app = app
        self.faults = faults
        self.calls = calls
        self.render_error = render_error

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(CONTROL_PREFIX):
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        router = scope.get("app")
        routes = getattr(router, "routes", ())
        self.calls.record(method, route_template(routes, scope) or path)
        query = scope.get("query_string", b"").decode("latin-1")
        for rule in self.faults.draw(method, path, query):
            if rule.latency_ms is not None:
                await asyncio.sleep(rule.latency_ms / 1000)
            elif rule.status is not None:
                headers = {"Retry-After": str(rule.retry_after)} if rule.retry_after is not None else None
                response = self.render_error(path, rule.status, "Fault injected by the sandbox", headers)
                await response(scope, receive, send)
                return
            elif rule.kind == "drop":
                await drop_connection(receive)
                return
            else:
                response = Response(MALFORMED_BODY, status_code=200, media_type="application/json")
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


# -- control routes ----------------------------------------------------------------------------


def _faults(request: Request) -> Faults:
    faults: Faults = request.app.state.faults
    return faults


async def list_faults(request: Request) -> Response:
    return JSONResponse([rule.as_json() for rule in _faults(request).rules])


async def set_faults(request: Request) -> Response:
    try:
        body = await request.json()
    except ValueError:
        return JSONResponse({"error": "the body must be a JSON list of rules"}, status_code=400)
    if isinstance(body, dict):
        body = [body]
    if not isinstance(body, list):
        return JSONResponse({"error": "the body must be a JSON list of rules"}, status_code=400)
    try:
        rules = [FaultRule.from_json(item) for item in body]
    except FaultSpecError as err:
        return JSONResponse({"error": str(err)}, status_code=400)
    _faults(request).replace(rules)
    return JSONResponse([rule.as_json() for rule in rules])


async def clear_faults(request: Request) -> Response:
    _faults(request).clear()
    return Response(status_code=204)


async def list_calls(request: Request) -> Response:
    counts = request.app.state.calls.counts()
    return JSONResponse({"calls": counts, "total": sum(counts.values())})


async def reset_calls(request: Request) -> Response:
    request.app.state.calls.reset()
    return Response(status_code=204)


async def health(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


def control_routes() -> list[BaseRoute]:
    table: list[tuple[str, Endpoint, list[str]]] = [
        ("/faults", list_faults, ["GET"]),
        ("/faults", set_faults, ["POST"]),
        ("/faults", clear_faults, ["DELETE"]),
        ("/calls", list_calls, ["GET"]),
        ("/calls", reset_calls, ["DELETE"]),
        ("/health", health, ["GET"]),
    ]
    return [Route(CONTROL_PREFIX + path, endpoint, methods=methods) for path, endpoint, methods in table]
