"""Stores and their tills in the local store: a tenant's shops (Flow Retail) that are also the
vendor stores products belong to (FLECS marketplace). Read-only through the graph.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from facade.backends.local import tables as t
from facade.backends.local.base import Repository, construct, page_by_parent, page_flat
from facade.models import Address, Page, PageArgs, Store, Till

SORTABLE: dict[str, Any] = {
    "id": t.stores.c.id,
    "name": t.stores.c.name,
    "created_at": t.stores.c.created_at,
}

_ADDRESS_FIELDS = ("street_1", "street_2", "city", "zip", "country", "state")


_store = construct(Store)
_address = construct(Address)
build_till = construct(Till)


def build_store(row: dict[str, Any]) -> Store:
    """A store from its row (a dict it takes over)."""
    # The address is flat columns in SQL and a nested object in both upstream APIs.
    row["address"] = _address({name: row.pop(name) for name in _ADDRESS_FIELDS})
    return _store(row)


class LocalStores(Repository):
    async def get_many(self, ids: Sequence[int]) -> dict[int, Store]:
        if not ids:
            return {}
        rows = await self.rows(select(t.stores).where(t.stores.c.id.in_(set(ids))))
        return {row["id"]: build_store(row) for row in rows}

    async def get_many_by_uid(self, uids: Sequence[str]) -> dict[str, Store]:
        if not uids:
            return {}
        rows = await self.rows(select(t.stores).where(t.stores.c.uid.in_(set(uids))))
        return {row["uid"]: build_store(row) for row in rows}

    async def page_all(self, page: PageArgs) -> Page[Store]:
        async with self.engine.connect() as conn:
            return await page_flat(conn, select(t.stores), page, SORTABLE, t.stores.c.id, build_store)

    async def page_by_tenant(self, tenant_ids: Sequence[str], page: PageArgs) -> dict[str, Page[Store]]:
        async with self.engine.connect() as conn:
            return await page_by_parent(
                conn,
                select(t.stores),
                t.stores.c.tenant_id,
                tenant_ids,
                page,
                SORTABLE,
                t.stores.c.id,
                build_store,
            )

    async def tills_by_store(self, store_ids: Sequence[int]) -> dict[int, list[Till]]:
        """Every requested store has an entry, empty when it has no tills (or does not exist)."""
        result: dict[int, list[Till]] = {store_id: [] for store_id in store_ids}
        if not store_ids:
            return result
        stmt = select(t.tills).where(t.tills.c.store_id.in_(set(store_ids))).order_by(t.tills.c.store_id, t.tills.c.id)
        for row in await self.rows(stmt):
            result[row["store_id"]].append(build_till(row))
        return result

    async def tills_get_many(self, ids: Sequence[str]) -> dict[str, Till]:
        if not ids:
            return {}
        rows = await self.rows(select(t.tills).where(t.tills.c.id.in_(set(ids))))
        return {row["id"]: build_till(row) for row in rows}
