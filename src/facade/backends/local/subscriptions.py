"""Subscriptions in the local store: a FLECS customer's WooCommerce subscriptions, each with its
billing details and line items.

A page of subscriptions costs two queries whatever its size: the page itself, then the line
items of every subscription on it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import bindparam, exists, select
from sqlalchemy.ext.asyncio import AsyncConnection

from facade.backends.local import tables as t
from facade.backends.local.base import Listing, Repository, in_keys, page_by_parent
from facade.models import LineItem, Page, PageArgs, Subscription

SORTABLE: dict[str, Any] = {
    "id": t.subscriptions.c.id,
    "created_at": t.subscriptions.c.created_at,
}


_BY_ID = select(t.subscriptions).where(in_keys(t.subscriptions.c.id))
_LINE_ITEMS = (
    select(t.line_items)
    .where(in_keys(t.line_items.c.subscription_id))
    .order_by(t.line_items.c.subscription_id, t.line_items.c.id)
)
_BY_USER = Listing(select(t.subscriptions), SORTABLE, t.subscriptions.c.id, t.subscriptions.c.user_id)
# Those buying from the store `store_id`.
_BY_USER_IN_STORE = Listing(
    select(t.subscriptions).where(
        exists()
        .where(t.line_items.c.subscription_id == t.subscriptions.c.id)
        .where(t.line_items.c.product_id == t.products.c.id)
        .where(t.products.c.store_id == bindparam("store_id"))
    ),
    SORTABLE,
    t.subscriptions.c.id,
    t.subscriptions.c.user_id,
)


async def _line_items(conn: AsyncConnection, subscription_ids: Iterable[int]) -> dict[int, list[LineItem]]:
    ids = set(subscription_ids)
    grouped: dict[int, list[LineItem]] = {i: [] for i in ids}
    if not ids:
        return grouped
    for row in (await conn.execute(_LINE_ITEMS, {"keys": list(ids)})).mappings():
        grouped[row["subscription_id"]].append(LineItem.model_validate(dict(row)))
    return grouped


def _build(row: Any, items: dict[int, list[LineItem]]) -> Subscription:
    return Subscription.model_validate({**row, "line_items": items.get(row["id"], [])})


class LocalSubscriptions(Repository):
    async def get_many(self, ids: Sequence[int]) -> dict[int, Subscription]:
        if not ids:
            return {}
        async with self.engine.connect() as conn:
            rows = list((await conn.execute(_BY_ID, {"keys": list(set(ids))})).mappings())
            items = await _line_items(conn, (row["id"] for row in rows))
        return {row["id"]: _build(row, items) for row in rows}

    async def page_by_user(
        self, user_ids: Sequence[int], store_id: int | None, page: PageArgs
    ) -> dict[int, Page[Subscription]]:
        """Each user's subscriptions; with `store_id`, only those buying from that store."""
        async with self.engine.connect() as conn:
            # Rows first (kept as mappings), records once the line items are known, so a
            # subscription is built once and never copied.
            if store_id is None:
                raw = await page_by_parent(conn, _BY_USER, user_ids, page, dict)
            else:
                raw = await page_by_parent(conn, _BY_USER_IN_STORE, user_ids, page, dict, {"store_id": store_id})
            items = await _line_items(conn, (row["id"] for p in raw.values() for row in p.items))
        return {
            user_id: Page(items=[_build(row, items) for row in p.items], total=p.total, offset=p.offset)
            for user_id, p in raw.items()
        }
