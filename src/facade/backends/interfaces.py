"""The narrow, batch-first interfaces every backend implements, one per domain.

Reads take many keys and answer a dict (missing keys are absent) or, for lists hanging off a
parent, a dict of pages keyed by parent; loaders put them back in key order. A read that an
upstream answers with one call per key (`Answers`) may answer a key with the exception its call
raised, so a failed call fails only the keys it served. Writes are the
upstream operations themselves, so the local store and an upstream client can stand in for each
other and the graph never changes. May import models, auth, errors, deadline, and the Afosto
operation record (a leaf: `backends/upstream/afosto/operation.py`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeAlias, TypeVar

from facade.auth import IssuedToken, Principal
from facade.backends.upstream.afosto.operation import AfostoAnswer, Operation
from facade.deadline import Deadline
from facade.models import (
    AppManifest,
    Device,
    DeviceAppType,
    DeviceFilter,
    DownloadToken,
    License,
    Page,
    PageArgs,
    Product,
    Review,
    Session,
    Store,
    Subscription,
    Tenant,
    Till,
    User,
)

K = TypeVar("K")
V = TypeVar("V")
# A batch read whose keys may each carry their own failure.
Answers: TypeAlias = Mapping[K, V | Exception]


@dataclass(frozen=True, slots=True)
class LoginResult:
    user: User
    token: IssuedToken


@dataclass(frozen=True, slots=True)
class DeviceLoginResult:
    user: User
    access_token: IssuedToken


@dataclass(frozen=True, slots=True)
class LinkResult:
    device: Device
    device_token: IssuedToken


@dataclass(frozen=True, slots=True)
class DeviceRegistration:
    device: Device
    device_code: str
    expires_in: int
    interval: int
    verification_uri: str


@dataclass(frozen=True, slots=True)
class Activation:
    """The outcome of a license activation: `already_active` is FLECS's 204."""

    session: Session
    license_key: str | None
    already_active: bool


@dataclass(frozen=True, slots=True)
class TokenResult:
    """A download token, or None for an unofficial app (FLECS's 204)."""

    session: Session
    token: DownloadToken | None


@dataclass(frozen=True, slots=True)
class ProductQuery:
    apps_only: bool = False
    store_id: int | None = None


class TenantBackend(Protocol):
    async def get_many(self, ids: Sequence[str]) -> Answers[str, Tenant]: ...


class UserBackend(Protocol):
    async def get_many(self, ids: Sequence[int]) -> dict[int, User]: ...

    async def page_by_tenant(self, tenant_ids: Sequence[str], page: PageArgs) -> dict[str, Page[User]]: ...

    async def page_by_store_access(
        self, store_ids: Sequence[int], page: PageArgs, account_types: Sequence[str] | None
    ) -> dict[int, Page[User]]: ...

    async def login(self, username: str, password: str) -> LoginResult: ...

    async def validate_token(self, token: str) -> bool: ...


class StoreBackend(Protocol):
    async def get_many(self, ids: Sequence[int]) -> Answers[int, Store]: ...

    async def get_many_by_uid(self, uids: Sequence[str]) -> Answers[str, Store]: ...

    async def page_all(self, page: PageArgs) -> Page[Store]: ...

    async def page_by_tenant(self, tenant_ids: Sequence[str], page: PageArgs) -> Answers[str, Page[Store]]: ...

    async def tills_by_store(self, store_ids: Sequence[int]) -> Answers[int, list[Till]]: ...

    async def tills_get_many(self, ids: Sequence[str]) -> Answers[str, Till]: ...


class ProductBackend(Protocol):
    async def get_many(self, ids: Sequence[int]) -> Answers[int, Product]: ...

    async def get_many_by_app(self, app_ids: Sequence[str]) -> dict[str, Product]: ...

    async def page_all(self, query: ProductQuery, page: PageArgs) -> Page[Product]: ...

    async def page_by_store(
        self, store_ids: Sequence[int], apps_only: bool, page: PageArgs
    ) -> Answers[int, Page[Product]]: ...

    async def page_by_owner(self, owner_ids: Sequence[int], page: PageArgs) -> dict[int, Page[Product]]: ...

    async def page_purchased(
        self, user_ids: Sequence[int], query: ProductQuery, page: PageArgs
    ) -> dict[int, Page[Product]]: ...


class ReviewBackend(Protocol):
    async def page_by_product(self, product_ids: Sequence[int], page: PageArgs) -> dict[int, Page[Review]]: ...

    async def page_by_user(self, user_ids: Sequence[int], page: PageArgs) -> dict[int, Page[Review]]: ...

    async def create(self, principal: Principal, product_id: int, review: str, rating: int) -> Review: ...


class SubscriptionBackend(Protocol):
    async def get_many(self, ids: Sequence[int]) -> dict[int, Subscription]: ...

    async def page_by_user(
        self, user_ids: Sequence[int], store_id: int | None, page: PageArgs
    ) -> dict[int, Page[Subscription]]: ...


class DeviceBackend(Protocol):
    async def get_many(self, ids: Sequence[str]) -> dict[str, Device]: ...

    async def page_by_store(self, store_ids: Sequence[int], page: PageArgs) -> Answers[int, Page[Device]]: ...

    async def page_by_owner(self, user_ids: Sequence[int], page: PageArgs) -> dict[int, Page[Device]]: ...

    async def search(self, principal: Principal | None, where: DeviceFilter, page: PageArgs) -> Page[Device]: ...

    async def get(self, principal: Principal, tenant_id: str, device_id: str) -> Device: ...

    async def current(self, principal: Principal) -> Device: ...

    async def register(
        self, client_id: str, name: str | None, system_information: str | None
    ) -> DeviceRegistration: ...

    async def authorize(
        self,
        principal: Principal,
        device_code: str,
        tenant_id: str,
        store_uid: str,
        till_uid: str | None,
        name: str | None,
    ) -> Device: ...

    async def link(
        self,
        device_code: str,
        app_id: str,
        user_code: str,
        password: str,
        system_information: str | None,
    ) -> LinkResult: ...

    async def login(self, principal: Principal, user_code: str, password: str) -> DeviceLoginResult: ...

    async def update_system_information(self, principal: Principal, system_information: str) -> Device: ...

    async def create(
        self,
        principal: Principal,
        tenant_id: str,
        store_uid: str,
        till_uid: str | None,
        app_type: DeviceAppType,
        name: str | None,
    ) -> Device: ...

    async def update(
        self,
        principal: Principal,
        tenant_id: str,
        device_id: str,
        changes: dict[str, Any],
    ) -> Device: ...

    async def delete(self, principal: Principal, tenant_id: str, device_id: str) -> None: ...

    async def users(self, principal: Principal, page: PageArgs, account_types: Sequence[str] | None) -> Page[User]: ...


class LicenseBackend(Protocol):
    async def get_many(self, ids: Sequence[int]) -> dict[int, License]: ...

    async def by_device(self, device_ids: Sequence[str]) -> dict[str, License]: ...

    async def page_by_user(self, user_ids: Sequence[int], page: PageArgs) -> dict[int, Page[License]]: ...

    async def activate(
        self, principal: Principal | None, license_key: str | None, session_id: str | None
    ) -> Activation: ...

    async def validate(self, session_id: str) -> tuple[bool, Session | None]: ...

    async def register_device(
        self,
        principal: Principal,
        manufacturer_id: int,
        manufacturer_name: str,
        model: str,
        serial_number: str,
        manufacture_date: dt.date,
    ) -> Device: ...


class AppBackend(Protocol):
    async def manifests_for(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], list[AppManifest]]: ...

    async def manifests_by_product(self, product_ids: Sequence[int]) -> dict[int, list[AppManifest]]: ...

    async def download_manifest(
        self,
        session_id: str,
        app: str,
        version: str,
        manifest_version: str | None,
        max_manifest_version: str | None,
    ) -> AppManifest: ...

    async def create_token(self, session_id: str, app: str, version: str) -> TokenResult: ...


class AfostoBackend(Protocol):
    """The Afosto API, one generic call for its 544 generated operations: `arguments` by the
    documented parameter name (path, query and header parameters), `body` the request body as
    JSON, `page`/`page_size` the x-page/x-page-size of a paged list."""

    async def call(
        self,
        operation: Operation,
        arguments: Mapping[str, Any],
        body: Any = None,
        *,
        page: int | None = None,
        page_size: int | None = None,
    ) -> AfostoAnswer: ...


class Backend(Protocol):
    """Everything the graph can reach, one attribute per domain (read-only, so a backend may
    hold a more specific implementation of each)."""

    @property
    def tenants(self) -> TenantBackend: ...

    @property
    def users(self) -> UserBackend: ...

    @property
    def stores(self) -> StoreBackend: ...

    @property
    def products(self) -> ProductBackend: ...

    @property
    def reviews(self) -> ReviewBackend: ...

    @property
    def subscriptions(self) -> SubscriptionBackend: ...

    @property
    def devices(self) -> DeviceBackend: ...

    @property
    def licenses(self) -> LicenseBackend: ...

    @property
    def apps(self) -> AppBackend: ...

    @property
    def afosto(self) -> AfostoBackend: ...

    def bind(self, headers: Mapping[str, str] | None = None, deadline: Deadline | None = None) -> Backend:
        """The backend as one request sees it, made per request by the app (`build_context`):
        upstream calls forward the allow-listed of the caller's `headers`, end by `deadline` and
        share the request's GET de-duplication. Cheap (microseconds, built lazily); the local
        store's is itself but for `afosto`, its in-process emulation bound to the request."""
        ...

    async def aclose(self) -> None: ...
