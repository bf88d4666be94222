"""Products in the local store: the FLECS marketplace catalogue (WooCommerce-shaped products, of
which apps are the ones with an `app_id`), listed per store, per vendor and per buyer.

Prices and ratings are decimal strings, as upstream sends them; sorting casts them to numbers so
"10.00" sorts after "9.99".
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import Numeric, Select, Text, bindparam, cast, select

from facade.backends.interfaces import ProductQuery
from facade.backends.local import tables as t
from facade.backends.local.base import Listing, Repository, construct, in_keys, page_by_parent, page_flat, reading
from facade.models import Attribute, Category, Deferred, Metadata, Page, PageArgs, Product

SORTABLE: dict[str, Any] = {
    "id": t.products.c.id,
    "name": t.products.c.name,
    "price": cast(t.products.c.price, Numeric(12, 2)),
    "created_at": t.products.c.created_at,
    "average_rating": cast(t.products.c.average_rating, Numeric(4, 2)),
    "rating_count": t.products.c.rating_count,
}


_category = construct(Category)
_attribute = construct(Attribute)
_metadata = construct(Metadata)

# A product's JSON columns, read as their text: decoded (with their records built) only when a
# query reads them (see build_product).
_JSON = ("categories", "attributes", "meta_data")
# CAST in the SQL, not only in SQLAlchemy: asyncpg decodes a `json` column itself.
_COLUMNS = [cast(c, Text).label(c.name) if c.name in _JSON else c for c in t.products.c]


def _decoded(raw: Any) -> Any:
    return orjson.loads(raw) if type(raw) is str else raw


def _parts(raw: tuple[str, str, str]) -> dict[str, Any]:
    categories, attributes, meta_data = raw
    return {
        "categories": [_category(c) for c in _decoded(categories)],
        "attributes": [_attribute(a) for a in _decoded(attributes)],
        "meta_data": [_metadata(m) for m in _decoded(meta_data)],
    }


def _never(raw: Any) -> Product:
    raise AssertionError("the store's own products are always read by their parts")


_LATER = Deferred(dict.fromkeys(_JSON, _parts), _never)


def build_product(row: dict[str, Any]) -> Product:
    """A product from its row (a dict it takes over) as `Record.deferred`: the JSON columns
    arrive as text and are decoded, their records built, on the first read of any of them (a
    product list that reads names and prices decodes none). Only the seed writes products; their
    nested lists hold exactly the fields of Category, Attribute and Metadata."""
    raw = (row.pop("categories"), row.pop("attributes"), row.pop("meta_data"))
    row["embedded_store"] = None
    return Product.deferred(row, _LATER, raw)


def select_products() -> Select[Any]:
    """SELECT of every product column, the JSON ones as text (what `build_product` takes)."""
    return select(*_COLUMNS)


_BY_ID = select_products().where(in_keys(t.products.c.id))
_BY_APP = select_products().where(in_keys(t.products.c.app_id))
# DISTINCT (user, product) first: a product bought in two subscriptions is one purchase.
_PURCHASES = (
    select(t.subscriptions.c.user_id, t.line_items.c.product_id)
    .join(t.line_items, t.line_items.c.subscription_id == t.subscriptions.c.id)
    .where(in_keys(t.subscriptions.c.user_id, "page_parents"))
    .distinct()
    .subquery("purchases")
)


def _filtered(stmt: Select[Any], apps_only: bool, by_store: bool) -> Select[Any]:
    if apps_only:
        stmt = stmt.where(t.products.c.is_app.is_(True))
    if by_store:
        stmt = stmt.where(t.products.c.store_id == bindparam("store_id"))
    return stmt


# Every list shape built once (see base.Listing): a filter's value is a bind parameter.
@functools.cache
def _all(apps_only: bool, by_store: bool) -> Listing:
    return Listing(_filtered(select_products(), apps_only, by_store), SORTABLE, t.products.c.id)


@functools.cache
def _by(parent: str, apps_only: bool) -> Listing:
    return Listing(_filtered(select_products(), apps_only, False), SORTABLE, t.products.c.id, t.products.c[parent])


@functools.cache
def _purchased(apps_only: bool, by_store: bool) -> Listing:
    stmt = select_products().join(_PURCHASES, _PURCHASES.c.product_id == t.products.c.id)
    return Listing(_filtered(stmt, apps_only, by_store), SORTABLE, t.products.c.id, _PURCHASES.c.user_id)


def _store_param(query: ProductQuery) -> dict[str, Any] | None:
    return None if query.store_id is None else {"store_id": query.store_id}


class LocalProducts(Repository):
    async def get_many(self, ids: Sequence[int]) -> dict[int, Product]:
        if not ids:
            return {}
        rows = await self.rows(_BY_ID, {"keys": list(set(ids))})
        return {row["id"]: build_product(row) for row in rows}

    async def get_many_by_app(self, app_ids: Sequence[str]) -> dict[str, Product]:
        if not app_ids:
            return {}
        rows = await self.rows(_BY_APP, {"keys": list(set(app_ids))})
        return {row["app_id"]: build_product(row) for row in rows}

    async def page_all(self, query: ProductQuery, page: PageArgs) -> Page[Product]:
        async with reading(self.engine) as conn:
            listing = _all(query.apps_only, query.store_id is not None)
            return await page_flat(conn, listing, page, build_product, _store_param(query))

    async def page_by_store(
        self, store_ids: Sequence[int], apps_only: bool, page: PageArgs
    ) -> dict[int, Page[Product]]:
        async with reading(self.engine) as conn:
            return await page_by_parent(conn, _by("store_id", apps_only), store_ids, page, build_product)

    async def page_by_owner(self, owner_ids: Sequence[int], page: PageArgs) -> dict[int, Page[Product]]:
        async with reading(self.engine) as conn:
            return await page_by_parent(conn, _by("owner_id", False), owner_ids, page, build_product)

    async def page_purchased(
        self, user_ids: Sequence[int], query: ProductQuery, page: PageArgs
    ) -> dict[int, Page[Product]]:
        """Products in the line items of each user's subscriptions, each product once per user."""
        if not user_ids:
            return {}
        listing = _purchased(query.apps_only, query.store_id is not None)
        async with reading(self.engine) as conn:
            return await page_by_parent(conn, listing, user_ids, page, build_product, _store_param(query))
