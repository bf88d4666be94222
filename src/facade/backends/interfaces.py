"""The narrow, batch-first interfaces every backend implements, one per domain.

Reads take many keys and answer a dict (missing keys are absent) or, for lists hanging off a
parent, a dict of pages keyed by parent; loaders put them back in key order. A read that an
upstream answers with one call per key (`Answers`) may answer a key with the exception its call
raised, so a failed call fails only the keys it served. Writes are the
upstream operations themselves, so the local store and an upstream client can stand in for each
other and the graph never changes. May import models, commerce, auth, errors, deadline, and the Afosto
operation record (a leaf: `backends/upstream/afosto/operation.py`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeAlias, TypeVar

from facade.auth import IssuedToken, Principal
from facade.backends.upstream.afosto.operation import AfostoAnswer, Operation
from facade.commerce import (
    AfostoPlan,
    AfostoTask,
    AfostoTenant,
    AfostoUser,
    ChannelInput,
    Customer,
    LineInput,
    Location,
    Order,
    OrderInput,
    OrderLine,
    PostalAddress,
    Price,
    PriceGroup,
    PriceInput,
    Printer,
    PrintHub,
    PrintHubStatus,
    SalesChannel,
    StockInput,
    StockLevel,
)
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
    async def get_many(self, ids: Sequence[int]) -> dict[int, Review]: ...

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


class CommerceBackend(Protocol):
    """Afosto's commerce data of one linked tenant (`AfostoTenant`, first argument): the local
    store's Afosto tables in local mode, the Afosto API (routed to AFOSTO) in upstream mode.

    Load-all reads take many tenants (one request normally asks for one) and answer each tenant's
    whole list; batch reads take one tenant and many keys and answer by key (a key with nothing
    is absent or an empty list); `order_page` is Afosto's paged order list. Writes are the Afosto
    operations named on each; they raise NotFound for an unknown id, BadUserInput for input
    Afosto refuses, Conflict for a write the record's state refuses (lines added to a canceled
    order), UpstreamError for the rest."""

    async def channels(self, tenants: Sequence[AfostoTenant]) -> Answers[AfostoTenant, list[SalesChannel]]: ...

    async def locations(self, tenants: Sequence[AfostoTenant]) -> Answers[AfostoTenant, list[Location]]: ...

    async def price_groups(self, tenants: Sequence[AfostoTenant]) -> Answers[AfostoTenant, list[PriceGroup]]: ...

    async def users(self, tenants: Sequence[AfostoTenant]) -> Answers[AfostoTenant, list[AfostoUser]]: ...

    async def plans(self, tenants: Sequence[AfostoTenant]) -> Answers[AfostoTenant, list[AfostoPlan]]: ...

    async def print_hubs(self, tenants: Sequence[AfostoTenant]) -> Answers[AfostoTenant, list[PrintHub]]: ...

    async def printers(self, tenants: Sequence[AfostoTenant]) -> Answers[AfostoTenant, list[Printer]]: ...

    async def prices(
        self,
        tenant: AfostoTenant,
        skus: Sequence[str],
        group_id: str,
        active_at: dt.datetime | None,
        group: PriceGroup | None = None,
    ) -> Answers[str, list[Price]]:
        """Each SKU's prices in the price group `group_id`; `group` is that group's record where
        the caller holds it already (its currency and VAT inclusion are the prices'), which
        spares upstream mode reading the groups again."""
        ...

    async def stock_by_location(
        self, tenant: AfostoTenant, location_ids: Sequence[str]
    ) -> Answers[str, list[StockLevel]]: ...

    async def stock_by_sku(self, tenant: AfostoTenant, skus: Sequence[str]) -> Answers[str, list[StockLevel]]: ...

    async def orders(self, tenant: AfostoTenant, ids: Sequence[str]) -> Answers[str, Order]: ...

    async def order_page(self, tenant: AfostoTenant, number: str | None, page: PageArgs) -> Page[Order]: ...

    async def order_lines(self, tenant: AfostoTenant, order_ids: Sequence[str]) -> Answers[str, list[OrderLine]]: ...

    async def order_lines_by_sku(self, tenant: AfostoTenant, skus: Sequence[str]) -> Answers[str, list[OrderLine]]: ...

    async def customers(self, tenant: AfostoTenant, ids: Sequence[str]) -> Answers[str, Customer]: ...

    async def addresses(self, tenant: AfostoTenant, ids: Sequence[str]) -> Answers[str, PostalAddress]: ...

    async def hub_status(self, tenant: AfostoTenant, hub_ids: Sequence[str]) -> Answers[str, PrintHubStatus]: ...

    async def tasks(self, tenant: AfostoTenant, ids: Sequence[str]) -> Answers[str, AfostoTask]: ...

    async def upsert_prices(self, tenant: AfostoTenant, group_id: str, prices: Sequence[PriceInput]) -> list[Price]: ...

    async def set_stock(
        self, tenant: AfostoTenant, location_id: str, levels: Sequence[StockInput]
    ) -> list[StockLevel]: ...

    async def create_channel(self, tenant: AfostoTenant, channel: ChannelInput) -> SalesChannel: ...

    async def update_channel(self, tenant: AfostoTenant, channel_id: str, channel: ChannelInput) -> SalesChannel: ...

    async def create_order(self, tenant: AfostoTenant, order: OrderInput, idempotency_key: str) -> Order: ...

    async def add_order_lines(
        self, tenant: AfostoTenant, order_id: str, lines: Sequence[LineInput], idempotency_key: str | None = None
    ) -> Order: ...

    async def cancel_order(self, tenant: AfostoTenant, order_id: str) -> AfostoTask: ...


class LinkBackend(Protocol):
    """The join keys between facade's records and Afosto's (the local store, in both modes: no
    API holds them). Reads answer only the keys that have a link. Keys of the reverse reads are
    `(tenant uid, Afosto id)`: Afosto ids are unique within an Afosto tenant only. Writes are the
    admin mutations' and answer what the link now is (None when removed); NotFound for an
    unknown facade record, Conflict when the other side is already linked elsewhere."""

    async def afosto_tenants(self, tenant_ids: Sequence[str]) -> dict[str, AfostoTenant]: ...

    async def channels_by_store(self, store_ids: Sequence[int]) -> dict[int, list[str]]: ...

    async def stores_by_channel(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]: ...

    async def location_by_store(self, store_ids: Sequence[int]) -> dict[int, str]: ...

    async def stores_by_location(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]: ...

    async def sku_by_product(self, product_ids: Sequence[int]) -> dict[int, str]: ...

    async def sku_refs_by_product(self, product_ids: Sequence[int]) -> dict[int, tuple[str, str]]:
        """Each product's (tenant uid, SKU): its SKU within its store's tenant, the key of its Afosto
        data (the graph's Product.prices, stock, orderLines; a product names its store, not its
        tenant)."""
        ...

    async def products_by_sku(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]: ...

    async def hub_by_device(self, device_ids: Sequence[str]) -> dict[str, str]: ...

    async def devices_by_hub(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], str]: ...

    async def link_tenant(self, tenant_id: str, afosto_tenant_id: str | None) -> AfostoTenant | None: ...

    async def link_store_channel(self, store_id: int, channel_id: str, linked: bool) -> list[str]: ...

    async def set_store_location(self, store_id: int, location_id: str | None) -> str | None: ...

    async def set_product_sku(self, product_id: int, sku: str | None) -> str | None: ...

    async def link_device_hub(self, device_id: str, hub_id: str | None) -> str | None: ...


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

    @property
    def commerce(self) -> CommerceBackend:
        """Afosto's commerce data: the local store's tables in local mode, Afosto upstream."""
        ...

    @property
    def links(self) -> LinkBackend:
        """The join keys between facade's records and Afosto's: the local store, in both modes."""
        ...

    def bind(self, headers: Mapping[str, str] | None = None, deadline: Deadline | None = None) -> Backend:
        """The backend as one request sees it, made per request by the app (`build_context`):
        upstream calls forward the allow-listed of the caller's `headers`, end by `deadline` and
        share the request's GET de-duplication. Cheap (microseconds, built lazily); the local
        store's is itself but for `afosto`, its in-process emulation bound to the request."""
        ...

    async def aclose(self) -> None: ...
