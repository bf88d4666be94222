"""The HTTP application: Starlette, a lifespan that opens the backend once, and the GraphQL
endpoint at /graphql (GraphQL over HTTP: GET and POST, application/json and
application/graphql-response+json; GraphiQL for browsers).

The endpoint is a thin view of our own rather than Strawberry's: it negotiates the media types the
GraphQL-over-HTTP spec asks for, serialises with orjson, and builds each request's context.
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson
from graphql import GraphQLError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from strawberry.exceptions import MissingQueryError
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types.graphql import OperationType
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from facade.auth import TokenService, TokenVerifier, bearer_token
from facade.backends.compose import compose
from facade.backends.interfaces import Backend
from facade.backends.local import LocalStore
from facade.backends.local.seed import is_empty, seed
from facade.backends.upstream.verify import verifier_for
from facade.context import Context
from facade.deadline import Deadline, Overdue
from facade.errors import (
    BadRequest,
    DuplicateHeader,
    FacadeError,
    MethodNotAllowed,
    NotAcceptable,
    OperationNotDetermined,
    PayloadTooLarge,
    RateLimited,
    RequestRefused,
    RequestTimeout,
    UnsupportedMediaType,
    UriTooLong,
)
from facade.graph.compiled import CompiledExecutor
from facade.graph.extensions import coded
from facade.graph.schema import FacadeSchema, build_schema
from facade.graphiql import graphiql_page
from facade.hangups import HANDLERS
from facade.loaders import Loaders
from facade.persisted import DocumentRefused, PersistedDocuments
from facade.ratelimit import RateLimits, address_key
from facade.settings import Settings

log = logging.getLogger("facade")

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
PARAMETERS = ("query", "operationName", "variables", "extensions", "documentId")
EMPTY_DOCUMENT = {"message": "Syntax Error: Unexpected <EOF>.", "extensions": {"code": "GRAPHQL_PARSE_FAILED"}}
STATIC_DIR = Path(__file__).parent / "static" / "graphiql"
EXAMPLE_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")
# Past the request's deadline, the time the endpoint still gives an execution to assemble what it
# has before it stops waiting (fields waiting on upstreams have answered UPSTREAM_TIMEOUT by then).
DEADLINE_GRACE = 0.5

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


def example_headers(path: Path) -> str:
    """The headers an example's `.json` says it needs (`"headers"`, e.g. the Afosto token), as
    the JSON text GraphiQL's headers editor opens with; empty when it names none."""
    try:
        headers = orjson.loads(path.read_bytes()).get("headers") if path.is_file() else None
    except (orjson.JSONDecodeError, AttributeError):
        return ""
    return json.dumps(headers, indent=2) if isinstance(headers, dict) and headers else ""


class GraphQLEndpoint:
    def __init__(self, schema: FacadeSchema, *, compiled: bool = True, max_plan_bytes: int = 64_000_000) -> None:
        self.schema = schema
        # Queries run through compiled plans; anything a plan declines or errs on runs (is
        # replayed) through Strawberry with the same context.
        self.executor = CompiledExecutor(schema, enabled=compiled, max_plan_bytes=max_plan_bytes)

    async def handle(self, request: Request) -> Response:
        """One GraphQL-over-HTTP request. Refusals of the HTTP request itself (RequestRefused) are
        answered with their 4xx status under either media type; request errors of GraphQL (parse,
        validation, GetOperation, variables) with 200 under application/json and 400 under
        application/graphql-response+json; a response from execution, field errors or not, 200."""
        deadline = Deadline.after(request.app.state.settings.request_timeout)
        if request.method in ("GET", "HEAD") and _wants_html(request) and "query" not in request.query_params:
            return self.graphiql(request)
        media = JSON
        try:
            media = _negotiate(request)
            # Refused before the request is read, as a proxy would: 429 under either media type.
            await check_rate(request)
            _check_request(request)
            params = await _params(request)
            # A document named by its hash becomes its text here (persisted.py).
            params["query"] = request.app.state.persisted.resolve(
                params.get("query"), params.get("extensions"), params.get("documentId")
            )
            context = build_context(request, deadline)
            result = await deadline.finish(self.execute(context, params, request.method), DEADLINE_GRACE)
        except Overdue as late:
            log.warning("a request was stopped at its deadline: %s", late)
            stopped = RequestTimeout(f"The request did not finish within its {deadline.seconds:g} s.")
            return _reply({"errors": [_error(stopped)], "data": None}, 200, media)
        except RateLimited as limited:
            retry = {"Retry-After": str(limited.extensions["retryAfter"])}
            return _reply({"errors": [_error(limited)]}, 429, media, retry)
        except DocumentRefused as refused:
            error = {"message": refused.message, "extensions": {"code": refused.code}}
            if refused.status != 200:
                return _reply({"errors": [error]}, refused.status, media)
            return _request_error(error, media=media)
        except RequestRefused as refused:
            allow = {"Allow": "GET, POST"} if isinstance(refused, MethodNotAllowed) else None
            return _reply({"errors": [_error(refused)]}, refused.status, media, allow)
        except InvalidOperationTypeError:
            wrong = MethodNotAllowed("Only queries may be sent with GET; POST mutations.")
            return _reply({"errors": [_error(wrong)]}, wrong.status, media, {"Allow": "POST"})
        except OperationNotDetermined as error:
            return _request_error(_error(error), media=media)
        except CannotGetOperationTypeError:  # Strawberry's GetOperation, for invalid documents
            unknown = OperationNotDetermined("The document has no operation of the name given in `operationName`.")
            return _request_error(_error(unknown), media=media)
        except MissingQueryError:  # Strawberry's refusal of an empty document; GraphQL's is a syntax error
            return _request_error(EMPTY_DOCUMENT, media=media)
        except ClientDisconnect:
            raise  # the caller hung up before its body arrived: the app's handler (facade.hangups)
        except Exception:  # pragma: no cover - the schema turns errors into results; this is a last guard
            log.exception("graphql execution failed")
            masked = {"message": "Internal server error.", "extensions": {"code": "INTERNAL_SERVER_ERROR"}}
            return _reply({"errors": [masked]}, 500, media)
        errors = [coded(e).formatted for e in result.errors or ()]
        if result.data is None and errors and _pre_execution(result.errors):
            # A request error: nothing was executed. Field errors that null the whole `data`
            # (execution happened) answer 200 with `data` below.
            return _request_error(*errors, media=media)
        body: dict[str, Any] = {"errors": errors, "data": result.data} if errors else {"data": result.data}
        if result.extensions:
            body["extensions"] = result.extensions  # the query's cost (graph/limits.py)
        headers = dict(context.response_headers or {})
        wait = _retry_after(errors)
        if wait is not None:
            headers.setdefault("Retry-After", str(wait))
        return _reply(body, 200, media, headers=headers or None)

    async def execute(self, context: Context, params: dict[str, Any], method: str) -> Any:
        # A token whose user or device is gone is refused for the whole request, checked once.
        await context.confirm_principal()
        return await self.executor.execute(
            params["query"],
            variable_values=params.get("variables"),
            context_value=context,
            operation_name=params.get("operationName"),
            allowed_operation_types=(OperationType.QUERY,) if method != "POST" else None,
        )

    def graphiql(self, request: Request) -> Response:
        query, headers = WELCOME, ""
        example = request.query_params.get("example")
        folder = playground_dir(request.app.state.settings)
        if example and folder is not None and EXAMPLE_NAME.match(example):
            path = folder / f"{example}.graphql"
            if path.is_file():
                query = path.read_text(encoding="utf-8")
                headers = example_headers(path.with_suffix(".json"))
        page = graphiql_page(endpoint=str(request.url.path), static="/graphql/static", query=query, headers=headers)
        return HTMLResponse(page)


def _pre_execution(errors: list[GraphQLError]) -> bool:
    """Whether errors are request errors (raised before execution): only field errors have a path."""
    return all(not e.path for e in errors)


def _request_error(*errors: Mapping[str, object], media: str) -> Response:
    """GraphQL request errors (parse, validation, GetOperation, variables): no `data` entry, and
    400 under application/graphql-response+json; under application/json the spec asks 200."""
    return _reply({"errors": list(errors)}, 400 if media == GRAPHQL_RESPONSE else 200, media)


def _error(error: FacadeError) -> dict[str, Any]:
    return {"message": error.message, "extensions": {**error.extensions, "code": error.code}}


def _wants_html(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "text/html" in accept


def _negotiate(request: Request) -> str:
    """The response media type: the acceptable one of highest quality; on a tie, the spec's own
    application/graphql-response+json. No Accept header, */* or application/* answer JSON, as
    legacy clients expect. Raises NotAcceptable when Accept names neither type."""
    header = ", ".join(request.headers.getlist("accept"))
    if not header.strip():
        return JSON
    quality = {GRAPHQL_RESPONSE: 0.0, JSON: 0.0}
    for item in header.split(","):
        kind, _, parameters = item.partition(";")
        kind = kind.strip().lower()
        q = 1.0
        for parameter in parameters.split(";"):
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if kind in quality:
            quality[kind] = max(quality[kind], q)
        elif kind in ("*/*", "application/*"):
            quality[JSON] = max(quality[JSON], q)
    best = max(quality, key=lambda kind: (quality[kind], kind == GRAPHQL_RESPONSE))
    if quality[best] <= 0:
        raise NotAcceptable(f"Accept {JSON} or {GRAPHQL_RESPONSE}.")
    return best


def _check_request(request: Request) -> None:
    """What is refused before the body is read: another method than GET or POST, a URL over
    max_url_bytes, and a header facade reads or forwards as one value (Authorization,
    X-Session-Id, Content-Type, FACADE_FORWARD_HEADERS) sent more than once: facade would verify
    one value and an upstream might be sent another."""
    if request.method not in ("GET", "HEAD", "POST"):
        raise MethodNotAllowed("Send GraphQL requests with GET (queries) or POST.")
    settings: Settings = request.app.state.settings
    scope = request.scope
    if len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"") > settings.max_url_bytes:
        raise UriTooLong(f"The URL is over {settings.max_url_bytes} bytes: POST the request instead.")
    single: frozenset[bytes] = request.app.state.single_headers
    seen: set[bytes] = set()
    for name, _ in scope["headers"]:
        if name in single:
            if name in seen:
                header = name.decode("latin-1")
                raise DuplicateHeader(f"The `{header}` header was sent more than once.", header=header)
            seen.add(name)


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, refused with PayloadTooLarge as soon as it is known to be over `limit` bytes: by
    its Content-Length before reading, or while streaming (a missing or wrong Content-Length
    does not get a larger body read)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.strip().isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"The body is over {limit} bytes.", limit=limit)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise PayloadTooLarge(f"The body is over {limit} bytes.", limit=limit)
    return bytes(body)


def _media_type(header: str) -> tuple[str, str | None]:
    """A Content-Type's media type (lower case) and its charset parameter, if any."""
    kind, *parameters = header.split(";")
    charset = None
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"').lower()
    return kind.strip().lower(), charset


async def _params(request: Request) -> dict[str, Any]:
    """The GraphQL-over-HTTP request parameters, checked for shape (BadRequest otherwise). An
    empty or null optional parameter counts as absent; the query need not parse to be
    well-formed, so an empty query is a GraphQL request error, not a refusal."""
    if request.method != "POST":
        q = request.query_params
        for name in PARAMETERS:
            if len(q.getlist(name)) > 1:
                # Which one counts would depend on the parser (Starlette's: the last; a proxy's
                # or a log's: maybe the first).
                raise BadRequest(f"`{name}` is given more than once.")
        params: dict[str, Any] = {
            "query": q.get("query"),
            "operationName": q.get("operationName") or None,
            "documentId": q.get("documentId") or None,
        }
        for name in ("variables", "extensions"):
            if q.get(name):
                try:
                    params[name] = orjson.loads(q[name])
                except orjson.JSONDecodeError:
                    raise BadRequest(f"`{name}` is not valid JSON.") from None
    else:
        header = request.headers.get("content-type")
        if header is None:
            raise UnsupportedMediaType("Say what the body is: send `Content-Type: application/json`.")
        ctype, charset = _media_type(header)
        if ctype not in ("application/json", "application/graphql") or charset not in (None, "utf-8", "utf8"):
            raise UnsupportedMediaType("Send application/json (or application/graphql), in UTF-8.")
        if request.headers.get("content-encoding", "identity").strip().lower() != "identity":
            # facade does not decompress bodies (nor would it want to be handed a zip bomb).
            raise UnsupportedMediaType("Send the body uncompressed (no Content-Encoding).")
        raw = await _read_body(request, request.app.state.settings.max_body_bytes)
        if ctype == "application/graphql":
            try:
                params = {"query": raw.decode("utf-8")}
            except UnicodeDecodeError:
                raise BadRequest("The body is not valid UTF-8.") from None
        else:
            try:
                params = orjson.loads(raw)
            except orjson.JSONDecodeError:
                raise BadRequest("The body is not valid JSON.") from None
            if not isinstance(params, dict):
                raise BadRequest("The body must be a JSON object (batched requests are not supported).")
    # A document named by hash (persisted.py) needs no `query`.
    extensions = params.get("extensions")
    persisted = bool(params.get("documentId")) or (isinstance(extensions, dict) and "persistedQuery" in extensions)
    if not isinstance(params.get("query"), str) and (params.get("query") is not None or not persisted):
        raise BadRequest("Give a `query` (a string).")
    for name in ("variables", "extensions"):
        if params.get(name) is not None and not isinstance(params[name], dict):
            raise BadRequest(f"`{name}` must be a JSON object.")
    if params.get("operationName") is not None and not isinstance(params["operationName"], str):
        raise BadRequest("`operationName` must be a string.")
    return params


def _retry_after(errors: Sequence[Mapping[str, Any]]) -> int | None:
    """The longest `retryAfter` (whole seconds, rounded up) of the RATE_LIMITED field errors (an
    upstream that asked facade to slow down), for the response's Retry-After header; else None."""
    waits = [
        extensions["retryAfter"]
        for error in errors
        if (extensions := error.get("extensions") or {}).get("code") == "RATE_LIMITED"
        and isinstance(extensions.get("retryAfter"), int | float)
        and not isinstance(extensions.get("retryAfter"), bool)
    ]
    return max(-(-int(w * 1000) // 1000) for w in waits) if waits else None


def _reply(body: dict[str, Any], status: int, media: str, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type=f"{media}; charset=utf-8", headers=headers)


def client_address(request: Request) -> str:
    """Who the request counts against when it has no valid token (see `trusted_proxies`)."""
    return address_key(request.client.host if request.client else None)


async def check_rate(request: Request) -> None:
    """Counts the request against its principal's or its address's limit (RateLimited when spent).
    The principal is what the verifier knows without a call (facade's key, or a verdict it keeps
    for an upstream's token); a token it has not judged yet counts against the address."""
    state = request.app.state
    subject = None
    with contextlib.suppress(FacadeError):
        token = bearer_token(request.headers.get("authorization"))
        if token is not None:
            verifier: TokenVerifier = state.verifier
            principal = verifier.known(token)
            subject = principal.subject if principal is not None else None
    await state.ratelimit.check_request(subject, client_address(request))


def build_context(request: Request, deadline: Deadline | None = None) -> Context:
    state = request.app.state
    # The request's view of the backend: upstream calls may forward the allow-listed of these
    # headers (and only these), end by the request's deadline and share its GET de-duplication.
    backend = state.backend.bind(request.headers, deadline)
    context = Context(
        settings=state.settings,
        backend=backend,
        loaders=Loaders(backend),
        request=request,
        verifier=state.verifier,
        limits=state.ratelimit,
        client_address=client_address(request),
        deadline=deadline,
    )
    try:
        # Verified by `confirm_principal`, awaited before execution (it may ask an upstream).
        context.token = bearer_token(request.headers.get("authorization"))
    except FacadeError as err:
        context.auth_error = err
    context.session_id = request.headers.get("x-session-id") or None
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
    schema = build_schema(settings)
    endpoint = GraphQLEndpoint(schema, compiled=settings.compiled, max_plan_bytes=settings.document_cache_bytes)
    ratelimit = RateLimits(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        owned = backend is None
        app.state.backend = backend if backend is not None else await open_backend(settings, tokens)
        app.state.verifier = verifier_for(settings, tokens, app.state.backend)
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

    middleware = []
    forwarded = {h.lower() for h in settings.forward_headers}
    if settings.cors_origins:
        # Outermost, so that refusals (413, 400...) carry the CORS headers too and a browser app
        # can read them. Credentials travel in Authorization, never in cookies: no credentials mode.
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=settings.cors_origins,
                allow_methods=["GET", "POST"],
                allow_headers=sorted({"accept", "content-type", "authorization", "x-session-id", *forwarded}),
                max_age=600,
            )
        )
    if settings.trusted_proxies:
        # X-Forwarded-For names the client only when a trusted proxy sent it (uvicorn's middleware:
        # the right-most address that is not a trusted proxy).
        middleware.append(Middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies))
    app = Starlette(
        middleware=middleware,
        routes=[
            # Every method reaches the endpoint, so that the others get a coded 405 too.
            Route("/graphql", endpoint.handle, methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]),
            Mount("/graphql/static", StaticFiles(directory=STATIC_DIR), name="graphiql-static"),
            Route("/health", health),
        ],
        exception_handlers=HANDLERS,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.ratelimit = ratelimit
    app.state.tokens = tokens
    app.state.persisted = PersistedDocuments.from_settings(settings)
    app.state.forward_headers = frozenset(h.lower() for h in settings.forward_headers)
    app.state.single_headers = frozenset(
        h.encode("latin-1") for h in {"authorization", "x-session-id", "content-type", *app.state.forward_headers}
    )
    if backend is not None:
        app.state.backend = backend
        app.state.verifier = verifier_for(settings, tokens, backend)
    app.state.schema = schema
    app.state.executor = endpoint.executor
    return app


def app_factory() -> Starlette:
    """For uvicorn --factory (and `facade serve` with several workers): settings from FACADE_*."""
    return create_app(Settings())
