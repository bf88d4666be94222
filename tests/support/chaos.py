"""A backend for tests that counts every call and, on demand, misbehaves: reads that fail, come
back empty, lose records or hold nulls where the schema promises a value; and `Twins`, the app
with compiled execution and the app without over one such backend, to compare their answers.

It wraps any `Backend` (the local store, or the upstream clients over it) without knowing its
domains' methods: each domain is a proxy whose async methods are wrapped. Whatever it does is a
function of (domain, method, arguments, seed) only, never of how many calls came before or in
which order, because the compiled and the standard executor ask for the same data in different
orders and batches and must still see the same data.
"""

from __future__ import annotations

import dataclasses
import inspect
import typing
import zlib
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import httpx

from facade.app import create_app
from facade.backends import interfaces
from facade.errors import FacadeError, RateLimited, UpstreamError, UpstreamTimeout
from facade.models import Page, Record

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
    "commerce",
    "links",
)
# Interface methods that change something: never faulted (a test signs in and links devices
# through them), only counted.
WRITES = frozenset(
    {
        "login",
        "create",
        "register",
        "authorize",
        "link",
        "update_system_information",
        "update",
        "delete",
        "activate",
        "register_device",
        "create_token",
        # Afosto's writes and the join keys' (commerce, links)
        "upsert_prices",
        "set_stock",
        "create_channel",
        "update_channel",
        "create_order",
        "add_order_lines",
        "cancel_order",
        "link_tenant",
        "link_store_channel",
        "set_store_location",
        "set_product_sku",
        "link_device_hub",
    }
)


def _read_methods() -> dict[str, tuple[str, ...]]:
    """Each domain's read methods, from the interfaces (so a new read is faulted too)."""
    reads: dict[str, tuple[str, ...]] = {}
    for domain in DOMAINS:
        protocol = typing.get_type_hints(getattr(interfaces.Backend, domain).fget)["return"]
        reads[domain] = tuple(
            sorted(
                name
                for name, member in vars(protocol).items()
                if inspect.iscoroutinefunction(member) and not name.startswith("_") and name not in WRITES
            )
        )
    return reads


READS: Mapping[str, tuple[str, ...]] = _read_methods()

Kind = Literal["raise", "empty", "drop", "poison", "null"]
KINDS: tuple[Kind, ...] = typing.get_args(Kind)
ERRORS: tuple[type[Exception], ...] = (UpstreamError, UpstreamTimeout, RateLimited, RuntimeError)


@dataclass(frozen=True, slots=True)
class Fault:
    """What one read method does instead of answering normally.

    raise   every call fails with `error`
    empty   every call answers nothing (no records, empty pages)
    drop    the records of some keys (and some items of each page) are missing
    poison  a call fails when it asks for a key that is hit (so the whole batch fails)
    null    the records of some keys have some fields set to None, whatever the schema says
    """

    domain: str
    method: str
    kind: Kind
    error: type[Exception] = UpstreamError


@dataclass(frozen=True, slots=True)
class Chaos:
    """The misbehaviour of one example: the `faults` named, and with `spread` set, about one read
    method in `spread` misbehaving in a way the seed picks. The `seed` and `rate` decide which
    keys are hit (about one in `rate`)."""

    faults: tuple[Fault, ...] = ()
    seed: int = 0
    rate: int = 3
    spread: int = 0
    kinds: tuple[Kind, ...] = KINDS  # what `spread` picks from

    def fault(self, domain: str, method: str) -> Fault | None:
        for fault in self.faults:
            if fault.domain == domain and fault.method == method:
                return fault
        if not self.spread:
            return None
        number, chosen = divmod(self.number(domain, ("method", method)), self.spread)
        if chosen:
            return None
        kind = self.kinds[number % len(self.kinds)]
        return Fault(domain, method, kind, ERRORS[number // len(self.kinds) % len(ERRORS)])

    def hit(self, domain: str, key: Any) -> bool:
        return self.number(domain, key) % self.rate == 0

    def number(self, domain: str, key: Any) -> int:
        return zlib.crc32(repr((self.seed, domain, key)).encode())


CALM = Chaos()


class ChaosBackend:
    """A `Backend` over `inner` that counts calls (`calls["products.page_all"]`) and misbehaves as
    `chaos` says (set it per test or example; CALM answers as `inner` does)."""

    def __init__(self, inner: Any, chaos: Chaos = CALM) -> None:
        self.inner = inner
        self.chaos = chaos
        self.calls: Counter[str] = Counter()
        self.faulted: Counter[str] = Counter()  # calls a fault applied to, by kind
        for domain in DOMAINS:
            setattr(self, domain, _Domain(self, domain, getattr(inner, domain)))

    def __getattr__(self, name: str) -> Any:  # the inner backend's extras (engine, sandbox_url, ...)
        return getattr(self.inner, name)

    def bind(self, headers: Any = None, deadline: Any = None) -> Any:
        """The inner backend's view of one request, counted and faulted here as well."""
        inner = self.inner.bind(headers, deadline)
        return self if inner is self.inner else _Bound(self, inner)

    async def aclose(self) -> None:
        await self.inner.aclose()


class _Bound:
    """A ChaosBackend over the inner backend's view of one request (same counts, same chaos)."""

    def __init__(self, backend: ChaosBackend, inner: Any) -> None:
        self._backend = backend
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        if name not in DOMAINS:
            return getattr(self.inner, name)
        domain = self.__dict__[name] = _Domain(self._backend, name, getattr(self.inner, name))
        # Methods a test set on the backend's own domain (`backend.products.page_all = ...`) hold
        # for every request.
        patched = vars(getattr(self._backend, name))
        domain.__dict__.update({k: v for k, v in patched.items() if not k.startswith("_")})
        return domain


class _Domain:
    def __init__(self, backend: ChaosBackend, name: str, inner: Any) -> None:
        self._backend = backend
        self._name = name
        self._inner = inner

    def __getattr__(self, method: str) -> Any:
        target = getattr(self._inner, method)
        if not inspect.iscoroutinefunction(target):
            return target
        backend, domain = self._backend, self._name

        async def call(*args: Any, **kwargs: Any) -> Any:
            backend.calls[f"{domain}.{method}"] += 1
            chaos = backend.chaos
            fault = chaos.fault(domain, method) if method not in WRITES else None
            if fault is None:
                return await target(*args, **kwargs)
            backend.faulted[fault.kind] += 1
            if fault.kind == "raise":
                raise _error(fault, domain, method)
            if fault.kind == "poison" and any(chaos.hit(domain, key) for key in _keys(args)):
                raise _error(fault, domain, method)
            result = await target(*args, **kwargs)
            return _transform(result, fault.kind, chaos, domain)

        return call


@dataclass(repr=False)
class Twins:
    """The same seeded store served twice over one ChaosBackend: by an app that runs compiled
    plans (`compiled`, whose CompiledExecutor is `executor`) and by one that only runs
    Strawberry's standard executor (`standard`). `api` signs in through the compiled one."""

    backend: ChaosBackend
    compiled: httpx.AsyncClient
    standard: httpx.AsyncClient
    executor: Any
    api: Any

    @classmethod
    async def open(cls, tmp: Path, products: int, **settings: Any) -> Twins:
        """`settings` override the test settings (conftest.make_settings)."""
        from conftest import Api, make_settings, open_api  # tests/ is on sys.path (rootdir conftest)

        api, _ = await open_api(make_settings(tmp, **settings), products=products)
        backend = ChaosBackend(api.store)
        compiled = create_app(api.settings, backend=backend)
        standard = create_app(api.settings.model_copy(update={"compiled": False}), backend=backend)
        signer = Api(client=_client(compiled), store=api.store, settings=api.settings, issuer=api.issuer)
        await api.client.aclose()
        return cls(backend, signer.client, _client(standard), compiled.state.executor, signer)

    async def aclose(self) -> None:
        await self.compiled.aclose()
        await self.standard.aclose()
        await self.backend.aclose()

    async def post(
        self,
        client: httpx.AsyncClient,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        operation_name: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        headers = {**(headers or {}), **({"Authorization": f"Bearer {token}"} if token else {})}
        body = {"query": query, "variables": variables, "operationName": operation_name}
        return await client.post("/graphql", json=body, headers=headers)


def _client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://facade.test")


def _error(fault: Fault, domain: str, method: str) -> Exception:
    message = f"chaos: {domain}.{method} failed"
    if issubclass(fault.error, FacadeError):
        return fault.error(message, upstream="chaos")
    return fault.error(message)


def _keys(args: tuple[Any, ...]) -> list[Any]:
    """The keys a batch read asks for: its first argument when that is a list of them."""
    if args and isinstance(args[0], list | tuple):
        return list(args[0])
    return []


def _transform(result: Any, kind: Kind, chaos: Chaos, domain: str) -> Any:
    if kind == "poison":
        return result
    if kind == "empty":
        if isinstance(result, dict):
            return {}
        if isinstance(result, Page):
            return dataclasses.replace(result, items=[], total=0)
        return None if isinstance(result, Record) else result
    if isinstance(result, dict):  # {key: record, page or list}
        if kind == "drop":
            return {k: _items(v, kind, chaos, domain) for k, v in result.items() if not chaos.hit(domain, k)}
        return {k: _items(v, kind, chaos, domain, every=chaos.hit(domain, k)) for k, v in result.items()}
    return _items(result, kind, chaos, domain)


def _items(value: Any, kind: Kind, chaos: Chaos, domain: str, *, every: bool = False) -> Any:
    """A record, page or list with its hit items (or, with `every`, all of them) dropped or
    spoilt; other values (booleans, tuples) as they are."""
    if isinstance(value, Page):
        return dataclasses.replace(value, items=_items(list(value.items), kind, chaos, domain, every=every))
    if isinstance(value, list):
        if kind == "drop":
            return [i for i in value if not chaos.hit(domain, _id(i))]
        return [_spoil(i, chaos, domain) if every or chaos.hit(domain, _id(i)) else i for i in value]
    if isinstance(value, Record) and (every or chaos.hit(domain, _id(value))):
        return None if kind == "drop" else _spoil(value, chaos, domain)
    return value


def _id(record: Any) -> Any:
    return getattr(record, "id", None)


def _spoil(record: Any, chaos: Chaos, domain: str) -> Any:
    """The record with about half its fields, chosen by its id and the seed, set to None."""
    if not isinstance(record, Record):
        return record
    names = [n for n in type(record).model_fields if chaos.number(domain, ("field", _id(record), n)) % 2]
    return record.model_copy(update=dict.fromkeys(names))


__all__ = ["CALM", "DOMAINS", "ERRORS", "KINDS", "READS", "WRITES", "Chaos", "ChaosBackend", "Fault", "Twins"]
