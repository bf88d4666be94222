"""Upstream mode: the backend the graph sees when FACADE_FLECS_URL, FACADE_FLOW_URL or FACADE_AFOSTO_URL
names an API.

Each interface method is answered by the API client the routing table (`routes.ROUTES`) names,
when that API is configured, and by the local store otherwise (a FLECS review list, a user
profile by id, ...): the contracts are REST APIs for their own clients, not for a graph, and what
they do not offer has to come from somewhere. `compose()` checks the table against the
interfaces and the clients first (`routes.check`: RouteError at start-up).

Per request: `ComposedBackend.bind(headers, deadline)` (the app's `build_context`) gives the
request its `RequestBackend`, which holds the request's `RequestScope` (allow-listed headers,
deadline, GET de-duplication) and hands it to each API client it calls (`ApiClient.bind`), so
per-request upstream state travels as plain attributes, never through a context variable.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from facade.backends.interfaces import Backend
from facade.backends.local import LocalStore
from facade.backends.routes import AFOSTO, FLECS, FLOW, ROUTES, Route, check
from facade.backends.upstream.afosto.api import AfostoApi
from facade.backends.upstream.afosto.client import API as AFOSTO_API
from facade.backends.upstream.afosto.client import ServiceAccount
from facade.backends.upstream.afosto.commerce import TenantChecks
from facade.backends.upstream.afosto.emulated import EmulatedAfosto
from facade.backends.upstream.base import ApiClient, ApiRequest
from facade.backends.upstream.flecs.client import FlecsConsole
from facade.backends.upstream.flow.client import FlowRetail
from facade.backends.upstream.http import HttpSettings, RequestScope, UpstreamClient
from facade.backends.upstream.payloads import UNKNOWN_TIME
from facade.deadline import Deadline
from facade.models import Device, Page, User
from facade.settings import Settings

# The API clients by the name the routing table gives them.
CLIENTS: dict[str, type] = {FLECS: FlecsConsole, FLOW: FlowRetail, AFOSTO: AfostoApi}
EMPTY: Mapping[str, str] = {}


class Apis(dict[str, ApiRequest]):
    """The APIs one request has called, each bound to the request's scope on first use."""

    __slots__ = ("scope", "upstreams")

    def __init__(self, upstreams: Mapping[str, ApiClient], scope: RequestScope) -> None:
        super().__init__()
        self.upstreams = upstreams
        self.scope = scope

    def __missing__(self, name: str) -> ApiRequest:
        bound = self[name] = self.upstreams[name].bind(self.scope)
        return bound


class Layered:
    """One domain for one request: its routed methods go to their API's client, bound to the
    request (`routes`: method name -> API name), the rest to the local store. Holds the request's
    `Apis`, not the request, so the request's objects form no reference cycle."""

    def __init__(self, apis: Apis, local: Backend, domain: str, routes: Mapping[str, str]) -> None:
        self._apis = apis
        self._directory = local
        self._local = getattr(local, domain)
        self._domain = domain
        self._routes = routes

    def __getattr__(self, name: str) -> Any:
        api = self._routes.get(name)
        if api is None:
            return getattr(self._local, name)
        operation = getattr(getattr(self._apis[api], self._domain), name)
        directory = self._directory

        async def call(*args: Any, **kwargs: Any) -> Any:
            return await complete(await operation(*args, **kwargs), directory)

        # Kept: later lookups (one per loader) find it without coming here.
        self.__dict__[name] = call
        return call


async def complete(result: Any, directory: Backend) -> Any:
    """Fills in what an upstream record does not carry from the directory (the local store):
    Flow Retail's device has no FLECS serial number, its tenant user no FLECS login, FLECS's
    login user no tenant role. The upstream's values win (a user's name, a login's feature flags);
    the directory only fills gaps, and a record it lacks stays as sent."""
    if isinstance(result, Device):
        found = (await directory.devices.get_many([result.id])).get(result.id)
        return _merged(found, result)
    if isinstance(result, User):
        found_user = (await directory.users.get_many([result.id])).get(result.id)
        return _merged_user(found_user, result)
    if isinstance(result, Page):
        items = list(result.items)
        if not any(isinstance(i, Device | User) for i in items):
            return result  # nothing the directory completes (a page of products, ...)
        devices = [i for i in items if isinstance(i, Device)]
        users = [i for i in items if isinstance(i, User)]
        known_devices = await directory.devices.get_many([d.id for d in devices]) if devices else {}
        known_users = await directory.users.get_many([u.id for u in users]) if users else {}
        filled = [
            _merged(known_devices.get(i.id), i)
            if isinstance(i, Device)
            else _merged_user(known_users.get(i.id), i)
            if isinstance(i, User)
            else i
            for i in items
        ]
        return dataclasses.replace(result, items=filled)
    if dataclasses.is_dataclass(result) and not isinstance(result, type):
        changes = {}
        for f in dataclasses.fields(result):
            value = getattr(result, f.name)
            if isinstance(value, Device | User):
                changes[f.name] = await complete(value, directory)
        return dataclasses.replace(result, **changes) if changes else result
    return result


def _merged(known: Device | None, sent: Device) -> Device:
    if known is None:
        return sent
    values = {**vars(known), **{k: v for k, v in vars(sent).items() if v is not None}}
    if sent.store_uid is not None:
        values["store_id"] = None  # the upstream's store (by uid) wins over the directory's id
    return Device.trusted(values)  # both records' values, already of Device's types


def _merged_user(known: User | None, sent: User) -> User:
    # What the upstream's record carries: the fields its reader set, unless empty or unknown
    # (FLECS's login sends no tenant role, Flow's tenant user no vendor flag). The login is the
    # directory's: Flow Retail has none (its reader falls back to the e-mail address).
    if known is None:
        return sent
    values = dict(vars(known))
    for name in sent.model_fields_set - {"login"}:
        value = getattr(sent, name)
        if value is not None and value != "" and value != UNKNOWN_TIME:
            values[name] = value
    return User.trusted(values)


DOMAINS = (
    "tenants",
    "users",
    "stores",
    "products",
    "reviews",
    "subscriptions",
    "devices",
    "licenses",
    "apps",
    "afosto",
    "commerce",
    "links",
)


class ComposedBackend:
    """Implements `Backend` from per-domain upstream clients over a local store: the process's
    part (the clients, their pools, the routes of the configured APIs). A request reaches the
    APIs through `bind(headers, deadline)`; used unbound (tests, tools), each domain lookup is a
    request of its own."""

    # Read by the graph's error codes: a result the schema cannot carry is an upstream's fault here.
    upstream_mode = True

    def __init__(
        self,
        local: Backend,
        upstreams: Mapping[str, ApiClient],
        routes: Sequence[Route],
        forward: frozenset[str] = frozenset({"authorization"}),
    ) -> None:
        self.local = local
        self.upstreams = dict(upstreams)
        self.forward = forward
        # domain -> {method -> API}, for the APIs configured; the rest is the local store's.
        self.routes: dict[str, dict[str, str]] = {d: {} for d in DOMAINS}
        for route in routes:
            if route.api in self.upstreams:
                self.routes[route.domain][route.method] = route.api

    def bind(self, headers: Mapping[str, str] | None = None, deadline: Deadline | None = None) -> RequestBackend:
        """The backend as one request sees it: the caller's allow-listed `headers` go upstream,
        every call ends by `deadline`, identical GETs are made once."""
        return RequestBackend(self, RequestScope.of(headers or EMPTY, self.forward, deadline))

    async def aclose(self) -> None:
        for api in self.upstreams.values():
            await api.aclose()
        await self.local.aclose()

    def __getattr__(self, name: str) -> Any:
        if name in DOMAINS:
            return getattr(self.bind(), name)
        return getattr(self.local, name)  # the local store's extras (engine, ...)


class RequestBackend:
    """The composed backend for one request (`ComposedBackend.bind`): each domain, and each API's
    request view (`ApiClient.bind`), made on first use, so a request pays for what it reads."""

    upstream_mode = True

    def __init__(self, composed: ComposedBackend, scope: RequestScope) -> None:
        self.composed = composed
        self.local = composed.local
        self.scope = scope
        self.apis = Apis(composed.upstreams, scope)

    def bind(self, headers: Mapping[str, str] | None = None, deadline: Deadline | None = None) -> RequestBackend:
        return self.composed.bind(headers, deadline)

    async def aclose(self) -> None:
        """Nothing: the request owns no connection; the composed backend closes the clients."""

    def __getattr__(self, name: str) -> Any:
        routes = self.composed.routes.get(name)
        if routes is None:
            return getattr(self.composed, name)
        domain = Layered(self.apis, self.local, name, routes) if routes else getattr(self.local, name)
        self.__dict__[name] = domain
        return domain


def http_settings(settings: Settings) -> HttpSettings:
    return HttpSettings(
        timeout=settings.upstream_timeout,
        connect_timeout=settings.upstream_connect_timeout,
        max_connections=settings.upstream_max_connections,
        retries=settings.upstream_retries,
        backoff=settings.upstream_backoff,
        transport=settings.upstream_transport,
    )


def compose(settings: Settings, local: LocalStore) -> Backend:
    """The backend the settings ask for: the local store alone, or upstream clients over it.
    Afosto is always the generated client: over HTTP to `FACADE_AFOSTO_URL` (the generated
    namespace and the commerce domain), or, when that is `local`, over the in-process emulation of
    the store's own Afosto tables (`local.afosto_api`, made on first use; the commerce domain then
    reads those tables directly). Raises RouteError when the routing table disagrees with the
    interfaces or the clients."""
    check(ROUTES, CLIENTS)
    http = http_settings(settings)
    forward = frozenset(h.lower() for h in settings.forward_headers)
    account = None
    if settings.afosto_client_id and settings.afosto_client_secret is not None:
        secret = settings.afosto_client_secret.get_secret_value()
        account = ServiceAccount(settings.afosto_client_id, secret, settings.afosto_scope)
    if settings.afosto_url == "local":
        local.afosto_api = EmulatedAfosto(http, account, store=local)
        local.afosto_forward = forward
    if settings.flecs_url == "local" and settings.flow_url == "local" and settings.afosto_url == "local":
        return local
    upstreams: dict[str, ApiClient] = {}
    if settings.flecs_url != "local":
        upstreams[FLECS] = FlecsConsole(
            UpstreamClient("FLECS Console", settings.flecs_url, http, policy=FlecsConsole.policy),
            concurrency=settings.upstream_concurrency,
            sort_limit=settings.upstream_sort_limit,
        )
    if settings.flow_url != "local":
        upstreams[FLOW] = FlowRetail(
            UpstreamClient("Flow Retail API", settings.flow_url, http, policy=FlowRetail.policy),
            concurrency=settings.upstream_concurrency,
            store_directory=local.stores,
            sort_limit=settings.upstream_sort_limit,
        )
    if settings.afosto_url != "local":
        client = UpstreamClient(AFOSTO_API, settings.afosto_url, http, policy=AfostoApi.policy)
        upstreams[AFOSTO] = AfostoApi(
            client,
            account,
            batch_size=settings.afosto_batch_size,
            concurrency=settings.upstream_concurrency,
            checks=TenantChecks(settings.token_cache_size, settings.token_cache_seconds),
        )
        routes = ROUTES
    else:
        upstreams[AFOSTO] = local.afosto_api  # the emulation, bound per request like a real API
        # Its commerce data is the local store's own tables: read them directly, not through it.
        routes = tuple(r for r in ROUTES if not (r.api == AFOSTO and r.domain == "commerce"))
    return ComposedBackend(local, upstreams, routes, forward)
