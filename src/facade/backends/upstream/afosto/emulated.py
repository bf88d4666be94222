"""Local mode's Afosto API (`FACADE_AFOSTO_URL=local`): the generated client (`api.AfostoApi`),
unchanged, over `httpx.ASGITransport` to the sandbox's Afosto emulation in this process
(`facade.sandbox.app.create_afosto_app`). One code path with upstream mode: the same requests,
policy (reads de-duplicated and retried, writes sent once), deadline, error mapping, paging and
call log; only the socket is missing.

Nothing is built at start-up: `EmulatedAfosto` makes the client on first use (cheap), and the
transport's app builds the emulator on the first call that reaches it (about 0.6 s, the OpenAPI
document the emulator answers by, built off the event loop). The hand-modelled operations
(prices, stock, channels, orders, ...) answer from the local store it is given, so the generated
namespace and the domain graph read and write the same rows; the other operations' records live
in this process's memory: per process, lost on restart, not shared between workers.

Imports the Afosto client and the upstream base; the sandbox only when the first call is made.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Any

import httpx
import jwt
from starlette.types import ASGIApp, Receive, Scope, Send

from facade.backends.upstream.afosto.api import AfostoApi
from facade.backends.upstream.afosto.client import API, ServiceAccount
from facade.backends.upstream.base import ApiClient, ApiRequest
from facade.backends.upstream.http import HttpSettings, RequestScope, UpstreamClient

__all__ = ["BASE_URL", "EmulatedAfosto", "LazyEmulation", "credentials_for"]

# What `https://api.afosto.io` is for the real API; the host is never resolved.
BASE_URL = "http://afosto.emulated/afosto"

# The key of the tokens facade hands its own emulation (`credentials_for`): made per process,
# never stored or sent anywhere but to the emulation in this process.
_SECRET = secrets.token_urlsafe(32)
CREDENTIALS_TTL = 60  # seconds


def credentials_for(afosto_tenant_id: str) -> str:
    """`Authorization` for one call of the emulation as the Afosto tenant `afosto_tenant_id`: a
    token in the sandbox's shape (HS256, claim `tenant_id`) under this process's own key. Local
    mode's Afosto namespace sends it for the tenant facade found the caller a member of
    (graph/afosto/local.py); the caller's own `X-Afosto-Authorization` is not what decides."""
    now = int(time.time())
    claims = {"tenant_id": afosto_tenant_id, "iat": now, "exp": now + CREDENTIALS_TTL, "iss": "facade-local"}
    return "Bearer " + jwt.encode(claims, _SECRET, algorithm="HS256")


def token_tenant(authorization: str | None, secret: str | None) -> str | None:
    """The Afosto tenant (claim `tenant_id`) of an `Authorization: Bearer <token>` value when the
    token is in the sandbox's shape (HS256 under `secret`, unexpired); else None. What the sandbox
    (`facade.sandbox.afosto`, `afosto_store`) and local mode's emulation read a call's tenant by."""
    scheme, _, token = (authorization or "").partition(" ")
    token = token.strip()
    if secret is None or scheme.lower() != "bearer" or token.count(".") != 2:
        return None
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"], options={"require": ["exp"]})
    except jwt.InvalidTokenError:
        return None
    tenant = claims.get("tenant_id")
    return tenant if isinstance(tenant, str) and tenant else None


def tenant_of(authorization: str | None) -> str | None:
    """The Afosto tenant an `Authorization` value names, when it is a token this process's
    emulation handed out (its `POST /iam/oauth/authorize`, or `credentials_for`) and has not
    expired; else None. Local mode's proof that a caller holds an Afosto account."""
    return token_tenant(authorization, _SECRET)


def _build(store: Any) -> ASGIApp:
    from facade.sandbox.app import create_afosto_app  # the sandbox imports the local store

    return create_afosto_app(store, secret=_SECRET)


class LazyEmulation:
    """An ASGI app that is the sandbox's Afosto app once the first call has built it; calls
    that arrive while it is built wait for that one build."""

    def __init__(self, store: Any = None) -> None:
        self.app: ASGIApp | None = None
        self.store = store
        self._lock: asyncio.Lock | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.app is None:
            self._lock = self._lock or asyncio.Lock()
            async with self._lock:
                if self.app is None:
                    self.app = await asyncio.to_thread(_build, self.store)
        await self.app(scope, receive, send)


class EmulatedAfosto(ApiClient):
    """The Afosto API client of local mode, made on first use: an `AfostoApi` (so an `ApiClient`:
    `bind(scope)`, `aclose()`) whose transport is the in-process emulation. `account` is the
    service account of the settings, if any (the emulation hands out tokens for it as the
    sandbox does); `store` the local store whose Afosto tables the emulation's hand-modelled
    operations read and write (the rows local mode's graph reads)."""

    policy = AfostoApi.policy

    def __init__(
        self, http: HttpSettings | None = None, account: ServiceAccount | None = None, store: Any = None
    ) -> None:
        # No UpstreamClient yet (ApiClient's `upstream`): `api` makes it on first use.
        self.http = http or HttpSettings()
        self.account = account
        self.emulation = LazyEmulation(store)
        self._api: AfostoApi | None = None

    @property
    def api(self) -> AfostoApi:
        if self._api is None:
            transport = httpx.ASGITransport(app=self.emulation)
            self.upstream = UpstreamClient(API, BASE_URL, self.http, transport=transport, policy=self.policy)
            self._api = AfostoApi(self.upstream, self.account)
        return self._api

    def bind(self, scope: RequestScope) -> ApiRequest:
        return self.api.bind(scope)

    async def aclose(self) -> None:
        if self._api is not None:
            api, self._api = self._api, None
            await api.aclose()
