"""Products and apps (FLECS products, WooCommerce-shaped): catalogue data, the store that sells
them, the vendor who owns them, their reviews and, for apps, their manifests."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.scalars import JSON

from facade import models
from facade.auth import Principal, TokenKind
from facade.graph.base import (
    Connection,
    Info,
    Need,
    batched,
    found,
    int_id,
    listed,
    page_args,
    paged,
    root_field,
)
from facade.graph.inputs import CURSOR, GLOBAL_ID, NAME, PAGE_SIZE, STORE_ID, arg
from facade.graph.nodes import Node, int_key, lookup_key, node_type
from facade.graph.sorting import CommerceSort, ProductSort, ReviewSort
from facade.models import SortDirection

if TYPE_CHECKING:
    from facade.graph.apps import AppManifest
    from facade.graph.commerce.types import OrderLineConnection, PriceConnection, StockLevelConnection
    from facade.graph.reviews import ReviewConnection
    from facade.graph.stores import Store
    from facade.graph.users import User


# What a product's embedded store (a FLECS product list's productStore) truthfully holds, as GraphQL
# fields of Store: payloads.flecs_store makes up the rest (uid, tenant, createdAt), so a selection
# reading any of those loads the store.
STORE_EMBEDDED = frozenset({"id", "name", "shopName", "url", "address"})


def _tenant_person(principal: Principal | None, product: Any) -> bool:
    """A person signed in to a tenant (not a device token, not a customer without a tenant): who
    may be a member of the product's SKU's tenant at all, refused before anything loads (so
    upstream mode asks Afosto nothing for them). Which tenant is decided when the lists load:
    they are the SKU's tenant's (loaders._owned), held to the members-only record rule."""
    return principal is not None and principal.kind is not TokenKind.DEVICE and principal.tenant_id is not None


@strawberry.type(description="A product category.")
class Category:
    id: strawberry.ID
    name: str
    slug: str


@strawberry.type(description="A product attribute and its options.")
class Attribute:
    id: strawberry.ID
    name: str
    options: list[str]


@strawberry.type(description="A product metadata entry; its value may be any JSON.")
class Metadata:
    id: strawberry.ID | None
    name: str
    value: JSON | None


@strawberry.type(description="A product or app sold in a store.")
@node_type("Product", "product", int_key, models.Product)
class Product(Node):
    name: str
    status: str
    description: str
    short_description: str
    average_rating: str = strawberry.field(description='Mean rating as a decimal string, e.g. "4.50".')
    rating_count: int
    categories: list[Category]
    attributes: list[Attribute]
    meta_data: list[Metadata]
    stock_status: str
    permalink: str
    price: str = strawberry.field(description='Price as a decimal string, e.g. "19.99".')
    purchasable: bool
    is_app: bool
    app_id: str | None = strawberry.field(description="Reverse-domain app id, for apps (e.g. tech.flecs.mqtt-bridge).")
    is_official: bool = strawberry.field(description="Official apps get download tokens; unofficial ones do not.")
    created_at: dt.datetime

    store: Annotated[Store, strawberry.lazy("facade.graph.stores")] | None = batched(
        "store", "store_id", embedded="embedded_store", covers=STORE_EMBEDDED
    )
    owner: Annotated[User, strawberry.lazy("facade.graph.users")] | None = batched(
        "user", "owner_id", description="The vendor who sells the product."
    )
    reviews: Annotated[ReviewConnection, strawberry.lazy("facade.graph.reviews")] | None = paged(
        "reviews_by_product", "id", sort=ReviewSort, description="Reviews of the product."
    )
    manifests: list[Annotated[AppManifest, strawberry.lazy("facade.graph.apps")]] = listed(
        "manifests_by_product", "id", description="App manifests of every version (apps only)."
    )
    # Afosto: through the product's SKU (the product_skus join key, in its store's tenant). The
    # lists are the SKU's tenant's even when empty (loaders._owned): another tenant's person is
    # refused; a product without a SKU has empty lists for any person of a tenant.
    sku: str | None = batched(
        "sku_of", "id", description="The SKU Afosto knows the product by (public); null when it has none."
    )
    prices: Annotated[PriceConnection, strawberry.lazy("facade.graph.commerce.types")] | None = paged(
        "product_prices",
        "id",
        sort=CommerceSort,
        guard=_tenant_person,
        filters=[
            ("price_group", Annotated[str | None, arg(NAME)], None),
            ("active_at", dt.datetime | None, None),
        ],
        description="The SKU's Afosto prices (members of the tenant of its SKU; `POST /cat/groups/{id}/prices`, "
        "one call per price group): in the group named `priceGroup`, else in every group; active at `activeAt`, "
        "else now. Empty without a SKU or an Afosto link.",
    )
    stock: Annotated[StockLevelConnection, strawberry.lazy("facade.graph.commerce.types")] | None = paged(
        "product_stock",
        "id",
        sort=CommerceSort,
        guard=_tenant_person,
        description="The SKU's stock at every Afosto location (members of its SKU's tenant; `POST /wms/inventory`).",
    )
    order_lines: Annotated[OrderLineConnection, strawberry.lazy("facade.graph.commerce.types")] | None = paged(
        "product_order_lines",
        "id",
        sort=CommerceSort,
        guard=_tenant_person,
        description="Afosto order lines of the SKU (members of its SKU's tenant; `POST /odr/search/orders/items`).",
    )


@strawberry.type(description="A page of Product items (Relay).")
class ProductConnection(Connection[Product]):
    pass


@strawberry.type
class ProductQueries:
    @root_field(
        Need.PUBLIC, description="A product or app by id: its global `id`, or its `sourceId` (FLECS product id)."
    )
    async def product(self, info: Info, id: Annotated[strawberry.ID, arg(GLOBAL_ID)]) -> Product | None:
        key = lookup_key(id, "Product", "id", int_id)
        return await found(info.context.loaders.product.load(key), "product")  # type: ignore[no-any-return]

    @root_field(
        Need.PUBLIC,
        description="All products, of one store when `storeId` is given (FLECS GET products).",
    )
    async def products(
        self,
        info: Info,
        store_id: Annotated[int | None, arg(STORE_ID)] = None,
        first: Annotated[int | None, arg(PAGE_SIZE)] = None,
        after: Annotated[str | None, arg(CURSOR)] = None,
        sort_by: ProductSort | None = None,
        sort_direction: SortDirection | None = None,
    ) -> ProductConnection | None:
        page = page_args(info, first, after, sort_by, sort_direction)
        return await info.context.loaders.products_all.load((False, store_id, page))  # type: ignore[return-value]

    @root_field(
        Need.PUBLIC,
        description="All app products, of one store when `storeId` is given (FLECS GET products/apps).",
    )
    async def apps(
        self,
        info: Info,
        store_id: Annotated[int | None, arg(STORE_ID)] = None,
        first: Annotated[int | None, arg(PAGE_SIZE)] = None,
        after: Annotated[str | None, arg(CURSOR)] = None,
        sort_by: ProductSort | None = None,
        sort_direction: SortDirection | None = None,
    ) -> ProductConnection | None:
        page = page_args(info, first, after, sort_by, sort_direction)
        return await info.context.loaders.products_all.load((True, store_id, page))  # type: ignore[return-value]
