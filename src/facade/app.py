"""The HTTP application: Starlette, a lifespan that opens the backend once, and the GraphQL
endpoint at /graphql (GraphQL over HTTP: GET and POST, application/json and
application/graphql-response+json; GraphiQL for browsers).

The endpoint is a thin view of our own rather than Strawberry's: it negotiates the media types the
GraphQL-over-HTTP spec asks for, serialises with orjson, and builds each request's context.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
from graphql import GraphQLError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types.graphql import OperationType
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from facade.auth import TokenService, bearer_token
from facade.backends.compose import compose
from facade.backends.interfaces import Backend
from facade.backends.local import LocalStore
from facade.backends.local.seed import is_empty, seed
from facade.backends.upstream.http import begin_request
from facade.context import Context
from facade.errors import FacadeError, RateLimited
from facade.graph.compiled import CompiledExecutor
from facade.graph.extensions import coded
from facade.graph.schema import FacadeSchema, build_schema
from facade.graphiql import graphiql_page
from facade.loaders import Loaders
from facade.ratelimit import RateLimits, address_key
from facade.settings import Settings

log = logging.getLogger("facade")

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
STATIC_DIR = Path(__file__).parent / "static" / "graphiql"
EXAMPLE_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")

WELCOME = """# Welcome to facade: one graph over FLECS Console and Flow Retail.
# Sign in with the `login` mutation (alice / facade-demo), then add the header
#   {"Authorization": "Bearer <token>"}
query Storefront {
  products(first: 5, sortBy: AVERAGE_RATING, sortDirection: DESC) {
    totalCount
    nodes { id name price averageRating store { name address { city } } owner { displayName } }
  }
}
"""


def playground_dir(settings: Settings) -> Path | None:
    if settings.playground_dir is not None:
        return settings.playground_dir
    # A source checkout keeps the examples beside src/; an installed wheel has none.
    candidate = Path(__file__).resolve().parents[2] / "playground"
    return candidate if candidate.is_dir() else None


class GraphQLEndpoint:
    def __init__(self, schema: FacadeSchema, *, compiled: bool = True) -> None:
        self.schema = schema
        # Queries run through compiled plans; anything a plan declines or errs on runs (is
        # replayed) through Strawberry with the same context.
        self.executor = CompiledExecutor(schema, enabled=compiled)

    async def handle(self, request: Request) -> Response:
        if request.method == "GET" and _wants_html(request) and "query" not in request.query_params:
            return self.graphiql(request)
        accept = request.headers.get("accept", "")
        media = GRAPHQL_RESPONSE if GRAPHQL_RESPONSE in accept else JSON
        if accept and media == JSON and not _accepts_json(accept):
            return _reply(
                {"errors": [{"message": "Accept application/json or " + GRAPHQL_RESPONSE}]},
                406,
                JSON,
            )
        try:
            await check_rate(request)
        except RateLimited as refused:
            # Refused before the request is read, as a proxy would: 429 under either media type.
            return _reply(
                {"errors": [{"message": refused.message, "extensions": {**refused.extensions, "code": refused.code}}]},
                429,
                media,
                headers={"Retry-After": str(refused.extensions["retryAfter"])},
            )
        try:
            params = await _params(request)
        except _BadRequest as bad:
            return _reply(
                {"errors": [{"message": str(bad), "extensions": {"code": "BAD_REQUEST"}}]},
                bad.status,
                media,
            )
        allowed = (OperationType.QUERY,) if request.method == "GET" else None
        context = build_context(request)
        try:
            result = await self.executor.execute(
                params["query"],
                variable_values=params.get("variables"),
                context_value=context,
                operation_name=params.get("operationName"),
                allowed_operation_types=allowed,
            )
        except InvalidOperationTypeError:
            error = {
                "message": "Only queries may be sent with GET; POST mutations.",
                "extensions": {"code": "BAD_REQUEST"},
            }
            return _reply({"errors": [error]}, 405, media, headers={"Allow": "POST"})
        except Exception:  # pragma: no cover - the schema turns errors into results; this is a last guard
            log.exception("graphql execution failed")
            return _reply({"errors": [{"message": "Internal server error."}]}, 500, media)
        body: dict[str, Any] = {}
        status = 200
        if result.errors:
            errors = [coded(e) for e in result.errors]
            body["errors"] = [e.formatted for e in errors]
            if result.data is None and media == GRAPHQL_RESPONSE:
                status = 400  # the request failed before execution (spec: graphql-response+json)
        body["data"] = result.data
        if result.data is None and result.errors and _pre_execution(result.errors):
            del body["data"]
        return _reply(body, status, media, headers=context.response_headers or None)

    def graphiql(self, request: Request) -> Response:
        query = WELCOME
        example = request.query_params.get("example")
        folder = playground_dir(request.app.state.settings)
        if example and folder is not None and EXAMPLE_NAME.match(example):
            path = folder / f"{example}.graphql"
            if path.is_file():
                query = path.read_text(encoding="utf-8")
        page = graphiql_page(endpoint=str(request.url.path), static="/graphql/static", query=query)
        return HTMLResponse(page)


def _pre_execution(errors: list[GraphQLError]) -> bool:
    return all(not e.path for e in errors)


def _wants_html(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "text/html" in accept


def _accepts_json(accept: str) -> bool:
    return any(t in accept for t in (JSON, "*/*", "application/*", "+json"))


class _BadRequest(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


async def _params(request: Request) -> dict[str, Any]:
    if request.method == "GET":
        q = request.query_params
        params: dict[str, Any] = {"query": q.get("query"), "operationName": q.get("operationName")}
        if q.get("variables"):
            try:
                params["variables"] = orjson.loads(q["variables"])
            except orjson.JSONDecodeError:
                raise _BadRequest("`variables` is not valid JSON.") from None
    else:
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        raw = await request.body()
        if ctype == "application/graphql":
            params = {"query": raw.decode("utf-8", "replace")}
        elif ctype in ("application/json", ""):
            try:
                params = orjson.loads(raw)
            except orjson.JSONDecodeError:
                raise _BadRequest("The body is not valid JSON.") from None
            if not isinstance(params, dict):
                raise _BadRequest("The body must be a JSON object (batched requests are not supported).")
        else:
            raise _BadRequest("Send application/json (or application/graphql).", 415)
    if not isinstance(params.get("query"), str) or not params["query"].strip():
        raise _BadRequest("Give a `query`.")
    variables = params.get("variables")
    if variables is not None and not isinstance(variables, dict):
        raise _BadRequest("`variables` must be a JSON object.")
    if params.get("operationName") is not None and not isinstance(params["operationName"], str):
        raise _BadRequest("`operationName` must be a string.")
    return params


def _reply(body: dict[str, Any], status: int, media: str, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type=media, headers=headers)


def client_address(request: Request) -> str:
    """Who the request counts against when it has no valid token (see `trusted_proxies`)."""
    return address_key(request.client.host if request.client else None)


async def check_rate(request: Request) -> None:
    """Counts the request against its principal's or its address's limit (RateLimited when spent)."""
    state = request.app.state
    subject = None
    with contextlib.suppress(FacadeError):
        token = bearer_token(request.headers.get("authorization"))
        if token is not None:
            subject = state.tokens.verify(token).subject
    await state.ratelimit.check_request(subject, client_address(request))


def build_context(request: Request) -> Context:
    state = request.app.state
    context = Context(
        settings=state.settings,
        backend=state.backend,
        loaders=Loaders(state.backend),
        request=request,
        tokens=state.tokens,
        limits=state.ratelimit,
        client_address=client_address(request),
    )
    try:
        token = bearer_token(request.headers.get("authorization"))
        if token is not None:
            context.principal = state.tokens.verify(token)
    except FacadeError as err:
        context.auth_error = err
    context.session_id = request.headers.get("x-session-id") or None
    # Upstream calls of this request may forward these (and only these) of the caller's headers.
    begin_request(request.headers, state.forward_headers)
    return context


async def health(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def open_backend(settings: Settings, tokens: TokenService) -> Backend:
    """The local store, and over it the upstream clients the settings name (upstream mode)."""
    store = await LocalStore.open(settings.database_url, tokens)
    if settings.seed_on_start and await is_empty(store.engine):
        summary = await seed(store.engine, products=settings.seed_products)
        log.info("seeded an empty store: %s", summary.counts)
    return compose(settings, store)


def create_app(settings: Settings | None = None, backend: Backend | None = None) -> Starlette:
    settings = settings or Settings()
    tokens = TokenService(settings)
    schema = build_schema()
    endpoint = GraphQLEndpoint(schema, compiled=settings.compiled)
    ratelimit = RateLimits(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        owned = backend is None
        app.state.backend = backend if backend is not None else await open_backend(settings, tokens)
        # Start-up objects live for the whole process: keep the collector from rescanning them,
        # and let it run less often (perf-baseline.md: GC is the largest cost under load).
        gc.collect()
        gc.freeze()
        gc.set_threshold(settings.gc_threshold, 20, 100)
        if ratelimit.shared and not await ratelimit.check():
            log.warning("rate limits: Redis does not answer; counting in process memory until it does")
        try:
            yield
        finally:
            await ratelimit.aclose()
            if owned:
                await app.state.backend.aclose()

    app = Starlette(
        routes=[
            Route("/graphql", endpoint.handle, methods=["GET", "POST"]),
            Mount("/graphql/static", StaticFiles(directory=STATIC_DIR), name="graphiql-static"),
            Route("/health", health),
        ],
        lifespan=lifespan,
        # X-Forwarded-For names the client only when a trusted proxy sent it (uvicorn's middleware:
        # the right-most address that is not a trusted proxy).
        middleware=[Middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)]
        if settings.trusted_proxies
        else [],
    )
    app.state.settings = settings
    app.state.ratelimit = ratelimit
    app.state.tokens = tokens
    app.state.forward_headers = frozenset(h.lower() for h in settings.forward_headers)
    if backend is not None:
        app.state.backend = backend
    app.state.schema = schema
    app.state.executor = endpoint.executor
    return app


def app_factory() -> Starlette:
    """For uvicorn --factory (and `facade serve` with several workers): settings from FACADE_*."""
    return create_app(Settings())
