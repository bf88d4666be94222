"""Upstream mode: the backend the graph sees when FACADE_FLECS_URL or FACADE_FLOW_URL names an API.

Each domain is answered by the upstream client where that API has the operation, and by the local
store where it has none (a FLECS review list, a user profile by id, ...): the contracts are REST
APIs for their own clients, not for a graph, and what they do not offer has to come from
somewhere. Which source answers which field is listed in the README's coverage table.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from facade.backends.interfaces import Backend
from facade.backends.local import LocalStore
from facade.backends.upstream.flecs import FlecsConsole
from facade.backends.upstream.flow import FlowRetail
from facade.backends.upstream.http import HttpSettings, UpstreamClient
from facade.models import Device, Page, User
from facade.settings import Settings

# The interface methods that are contract operations (or lists a contract operation answers), by
# domain. Only these go upstream; the rest are reads the APIs do not offer.
UPSTREAM: dict[str, frozenset[str]] = {
    # FLECS Console
    "users": frozenset({"login", "validate_token"}),
    "products": frozenset({"page_all", "page_by_store", "page_purchased"}),
    "reviews": frozenset({"create"}),
    "subscriptions": frozenset({"page_by_user"}),
    "licenses": frozenset({"activate", "validate", "register_device"}),
    "apps": frozenset({"download_manifest", "create_token"}),
    # Flow Retail, F0-F12
    "devices": frozenset(
        {
            "login",
            "current",
            "register",
            "update_system_information",
            "authorize",
            "link",
            "users",
            "search",
            "create",
            "get",
            "update",
            "delete",
        }
    ),
}


class Layered:
    """A domain whose contract operations go to the upstream client and the rest to the store."""

    def __init__(self, upstream: Any, local: Any, operations: frozenset[str], directory: Backend) -> None:
        self._upstream = upstream
        self._local = local
        self._operations = operations if upstream is not None else frozenset()
        self._directory = directory

    def __getattr__(self, name: str) -> Any:
        if name not in self._operations:
            return getattr(self._local, name)
        operation = getattr(self._upstream, name)
        directory = self._directory

        async def call(*args: Any, **kwargs: Any) -> Any:
            return await complete(await operation(*args, **kwargs), directory)

        # Kept: later lookups (one per loader per request) find it without coming here.
        self.__dict__[name] = call
        return call

    def source_of(self, name: str) -> str:
        return "upstream" if name in self._operations else "local"


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

    def __init__(self, local: Backend, upstreams: Sequence[Any], clients: Sequence[UpstreamClient]) -> None:
        self.local = local
        self._clients = list(clients)
        for domain in DOMAINS:
            served = [getattr(u, domain) for u in upstreams if getattr(u, domain, None) is not None]
            operations = UPSTREAM.get(domain, frozenset())
            setattr(self, domain, Layered(served[0] if served else None, getattr(local, domain), operations, local))

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
    """The backend the settings ask for: the local store alone, or upstream clients over it."""
    if settings.flecs_url == "local" and settings.flow_url == "local":
        return local
    http = http_settings(settings)
    upstreams: list[Any] = []
    clients: list[UpstreamClient] = []
    if settings.flecs_url != "local":
        client = UpstreamClient("FLECS Console", settings.flecs_url, http)
        clients.append(client)
        upstreams.append(
            FlecsConsole(client, concurrency=settings.upstream_concurrency, sort_limit=settings.upstream_sort_limit)
        )
    if settings.flow_url != "local":
        client = UpstreamClient("Flow Retail API", settings.flow_url, http)
        clients.append(client)
        upstreams.append(
            FlowRetail(
                client,
                concurrency=settings.upstream_concurrency,
                store_directory=local.stores,
                sort_limit=settings.upstream_sort_limit,
            )
        )
    return ComposedBackend(local, upstreams, clients)
