"""Upstream mode: the backend the graph sees when FACADE_FLECS_URL or FACADE_FLOW_URL names an API.

Each interface method is answered by the API client the routing table (`routes.ROUTES`) names,
when that API is configured, and by the local store otherwise (a FLECS review list, a user
profile by id, ...): the contracts are REST APIs for their own clients, not for a graph, and what
they do not offer has to come from somewhere. `compose()` checks the table against the
interfaces and the clients first (`routes.check`: RouteError at start-up).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from facade.backends.interfaces import Backend
from facade.backends.local import LocalStore
from facade.backends.routes import FLECS, FLOW, ROUTES, Route, check
from facade.backends.upstream.flecs import FlecsConsole
from facade.backends.upstream.flow import FlowRetail
from facade.backends.upstream.http import HttpSettings, UpstreamClient
from facade.models import Device, Page, User
from facade.settings import Settings

# The API clients by the name the routing table gives them.
CLIENTS: dict[str, type] = {FLECS: FlecsConsole, FLOW: FlowRetail}


class Layered:
    """A domain whose routed methods go to their API's client (`upstream`: method name -> the
    client's domain part) and the rest to the store."""

    def __init__(self, upstream: Mapping[str, Any], local: Any, directory: Backend) -> None:
        self._upstream = upstream
        self._local = local
        self._directory = directory

    def __getattr__(self, name: str) -> Any:
        part = self._upstream.get(name)
        if part is None:
            return getattr(self._local, name)
        operation = getattr(part, name)
        directory = self._directory

        async def call(*args: Any, **kwargs: Any) -> Any:
            return await complete(await operation(*args, **kwargs), directory)

        # Kept: later lookups (one per loader per request) find it without coming here.
        self.__dict__[name] = call
        return call


async def complete(result: Any, directory: Backend) -> Any:
    """Fills in what an upstream record does not carry from the directory (the local store):
    Flow Retail's device has no FLECS serial number, its tenant user no FLECS login. The
    upstream's values win; the directory only fills gaps, and a record it lacks stays as sent."""
    if isinstance(result, Device):
        found = (await directory.devices.get_many([result.id])).get(result.id)
        return _merged(found, result)
    if isinstance(result, User):
        found_user = (await directory.users.get_many([result.id])).get(result.id)
        return found_user or result
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
            else (known_users.get(i.id) or i)
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


DOMAINS = ("tenants", "users", "stores", "products", "reviews", "subscriptions", "devices", "licenses", "apps")


class ComposedBackend:
    """Implements `Backend` from per-domain upstream clients over a local store."""

    # Read by the graph's error codes: a result the schema cannot carry is an upstream's fault here.
    upstream_mode = True

    def __init__(
        self, local: Backend, upstreams: Mapping[str, Any], clients: Sequence[UpstreamClient], routes: Sequence[Route]
    ) -> None:
        self.local = local
        self._clients = list(clients)
        for domain in DOMAINS:
            # Each method to the API its route names, when that API is configured; else local.
            methods: dict[str, Any] = {
                r.method: getattr(upstreams[r.api], domain) for r in routes if r.domain == domain and r.api in upstreams
            }
            setattr(self, domain, Layered(methods, getattr(local, domain), local))

    async def aclose(self) -> None:
        for client in self._clients:
            await client.aclose()
        await self.local.aclose()

    def __getattr__(self, name: str) -> Any:  # the local store's extras (engine, ...)
        return getattr(self.local, name)


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
    Raises RouteError when the routing table disagrees with the interfaces or the clients."""
    check(ROUTES, CLIENTS)
    if settings.flecs_url == "local" and settings.flow_url == "local":
        return local
    http = http_settings(settings)
    upstreams: dict[str, Any] = {}
    clients: list[UpstreamClient] = []
    if settings.flecs_url != "local":
        client = UpstreamClient("FLECS Console", settings.flecs_url, http)
        clients.append(client)
        upstreams[FLECS] = FlecsConsole(
            client, concurrency=settings.upstream_concurrency, sort_limit=settings.upstream_sort_limit
        )
    if settings.flow_url != "local":
        client = UpstreamClient("Flow Retail API", settings.flow_url, http)
        clients.append(client)
        upstreams[FLOW] = FlowRetail(
            client,
            concurrency=settings.upstream_concurrency,
            store_directory=local.stores,
            sort_limit=settings.upstream_sort_limit,
        )
    return ComposedBackend(local, upstreams, clients, ROUTES)
