"""Stores and their tills in the local store: a tenant's shops (Flow Retail) that are also the
vendor stores products belong to (FLECS marketplace). Read-only through the graph.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from facade.backends.local import tables as t
from facade.backends.local.base import Listing, Repository, construct, in_keys, page_by_parent, page_flat, reading
from facade.models import Address, Page, PageArgs, Store, Till

SORTABLE: dict[str, Any] = {
    "id": t.stores.c.id,
    "name": t.stores.c.name,
    "created_at": t.stores.c.created_at,
}

_BY_ID = select(t.stores).where(in_keys(t.stores.c.id))
_BY_UID = select(t.stores).where(in_keys(t.stores.c.uid))
_ALL = Listing(select(t.stores), SORTABLE, t.stores.c.id)
_BY_TENANT = Listing(select(t.stores), SORTABLE, t.stores.c.id, t.stores.c.tenant_id)
_TILLS_BY_STORE = select(t.tills).where(in_keys(t.tills.c.store_id)).order_by(t.tills.c.store_id, t.tills.c.id)
_TILLS_BY_ID = select(t.tills).where(in_keys(t.tills.c.id))

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
        rows = await self.rows(_BY_ID, {"keys": list(set(ids))})
        return {row["id"]: build_store(row) for row in rows}

    async def get_many_by_uid(self, uids: Sequence[str]) -> dict[str, Store]:
        if not uids:
            return {}
        rows = await self.rows(_BY_UID, {"keys": list(set(uids))})
        return {row["uid"]: build_store(row) for row in rows}

    async def page_all(self, page: PageArgs) -> Page[Store]:
        async with reading(self.engine) as conn:
            return await page_flat(conn, _ALL, page, build_store)

    async def page_by_tenant(self, tenant_ids: Sequence[str], page: PageArgs) -> dict[str, Page[Store]]:
        async with reading(self.engine) as conn:
            return await page_by_parent(conn, _BY_TENANT, tenant_ids, page, build_store)

    async def tills_by_store(self, store_ids: Sequence[int]) -> dict[int, list[Till]]:
        """Every requested store has an entry, empty when it has no tills (or does not exist)."""
        result: dict[int, list[Till]] = {store_id: [] for store_id in store_ids}
        if not store_ids:
            return result
        for row in await self.rows(_TILLS_BY_STORE, {"keys": list(set(store_ids))}):
            result[row["store_id"]].append(build_till(row))
        return result

    async def tills_get_many(self, ids: Sequence[str]) -> dict[str, Till]:
        if not ids:
            return {}
        rows = await self.rows(_TILLS_BY_ID, {"keys": list(set(ids))})
        return {row["id"]: build_till(row) for row in rows}
