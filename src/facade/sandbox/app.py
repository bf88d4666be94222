"""The sandbox application: a Starlette app that answers like the FLECS Console API v2 (under
`/api/v2`) and the Flow Retail Device API v2 (under `/v2`), backed by a local store, and like the
Afosto API (under `/afosto`, emulated from its contract; its hand-modelled operations from the
same store), so facade's upstream clients can be developed and tested over real HTTP without the
real APIs.

It takes a `Settings` of its own: its tokens are signed with its FACADE_JWT_SECRET (or, with
FACADE_JWT_ALGORITHM=RS256, its FACADE_JWT_PRIVATE_KEY_FILE, whose public key it publishes at
`/.well-known/jwks.json`), and facade in upstream mode checks them the way a real API allows
(auth/validate, F1, F6 or that JWKS), never with a shared secret. The lifespan opens the store (migrated,
and seeded when empty, as `facade serve` does) unless one is handed in. Faults and call counting
wrap every API route (see `faults.py`); `/__sandbox/...` controls them.

Imports the local store, auth, settings and the sandbox's own modules; never the graph.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Mapping

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from facade.auth import TokenService
from facade.backends.local import LocalStore
from facade.backends.local.seed import seed_if_empty
from facade.hangups import HANDLERS
from facade.sandbox import afosto, flecs, flow
from facade.sandbox.faults import CallLog, Faults, FaultsMiddleware, control_routes
from facade.sandbox.http import json_response
from facade.settings import Settings

log = logging.getLogger("facade.sandbox")

FLECS_PREFIX = "/api/"
FLOW_PREFIX = "/v2"
AFOSTO_PREFIX = afosto.PREFIX


def render_error(path: str, status: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
    """An error in the shape of the API that owns `path`."""
    if path.startswith(FLECS_PREFIX):
        return flecs.failure(status, message, headers)
    if path == FLOW_PREFIX or path.startswith(FLOW_PREFIX + "/"):
        return flow.failure(status, message, headers)
    if path == AFOSTO_PREFIX or path.startswith(AFOSTO_PREFIX + "/"):
        return afosto.failure(status, message, headers)
    return json_response({"message": message, "statusCode": status}, status, headers)


async def http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own refusals (no such route, wrong method) in the API's shape, Allow kept."""
    assert isinstance(exc, HTTPException)
    return render_error(request.url.path, exc.status_code, exc.detail, exc.headers)


async def server_error(request: Request, exc: Exception) -> Response:
    # Starlette logs the exception after this answers; the client learns nothing of it.
    return render_error(request.url.path, 500, "Unknown error")


async def jwks(request: Request) -> Response:
    """The public keys of the sandbox's tokens as a JWK Set (empty when it signs with a secret)."""
    return json_response(request.app.state.tokens.jwks())


async def open_store(settings: Settings, tokens: TokenService) -> LocalStore:
    store = await LocalStore.open(settings.database_url, tokens)
    if settings.seed_on_start:
        summary = await seed_if_empty(store.engine, products=settings.seed_products)
        if summary is not None:
            log.info("seeded an empty store: %s", summary.counts)
    return store


def create_sandbox_app(settings: Settings, store: LocalStore | None = None, faults: Faults | None = None) -> Starlette:
    tokens = TokenService(settings)
    faults = faults if faults is not None else Faults()
    calls = CallLog()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        owned = store is None
        if owned:
            app.state.store = await open_store(settings, tokens)
        try:
            yield
        finally:
            if owned:
                await app.state.store.aclose()

    app = Starlette(
        # Afosto first: its one route declines every other path at a prefix test, and holds the
        # 544 operations in a trie of its own (see facade.sandbox.afosto).
        routes=[
            afosto.AfostoRoute(),
            *flecs.routes,
            Mount(FLOW_PREFIX, routes=flow.routes),
            *control_routes(),
            Route("/.well-known/jwks.json", jwks),
        ],
        middleware=[Middleware(FaultsMiddleware, faults=faults, calls=calls, render_error=render_error)],
        exception_handlers={**HANDLERS, HTTPException: http_error, Exception: server_error},
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.tokens = tokens
    # The sandbox's Afosto tokens (`afosto_store.issue_token`) are signed with its secret.
    app.state.afosto_secret = settings.resolved_jwt_secret()
    app.state.faults = faults
    app.state.calls = calls
    if store is not None:
        app.state.store = store
    return app


def create_afosto_app(
    store: LocalStore | None = None, faults: Faults | None = None, secret: str | None = None
) -> Starlette:
    """The Afosto emulation alone, under `/afosto`: what local mode answers the Afosto fields
    with, in process (`backends/upstream/afosto/emulated.py`). The same route, faults, call log
    and error shapes as in `create_sandbox_app`; no lifespan. The hand-modelled operations answer
    from `store` (local mode's own store: what its graph reads) when given (`afosto_store.py`);
    the generic collections live in the route's memory. `secret` verifies the sandbox's Afosto
    tokens (None: every call is the default Afosto tenant's). Building it builds the emulator:
    about 0.6 s, the OpenAPI document."""
    faults = faults if faults is not None else Faults()
    calls = CallLog()
    app = Starlette(
        routes=[afosto.AfostoRoute(), *control_routes()],
        middleware=[Middleware(FaultsMiddleware, faults=faults, calls=calls, render_error=render_error)],
        exception_handlers={**HANDLERS, HTTPException: http_error, Exception: server_error},
    )
    app.state.faults = faults
    app.state.calls = calls
    app.state.afosto_secret = secret
    if store is not None:
        app.state.store = store
    return app
