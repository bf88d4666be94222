"""What every local-store module shares: the engine, row-to-record mapping and paging.

Paging a list that hangs off many parents is one windowed query (ROW_NUMBER and COUNT over a
partition by parent), so `store.products` for 100 stores costs one SELECT, not 100.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from facade.models import Page, PageArgs, Record, SortDirection

R = TypeVar("R", bound=Record)
K = TypeVar("K", bound=Hashable)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Repository:
    """A domain's slice of the local store: holds the engine, opens a connection per call."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def rows(self, stmt: Select[Any]) -> list[Any]:
        async with self.engine.connect() as conn:
            return list((await conn.execute(stmt)).mappings())


def order_by(page: PageArgs, sortable: dict[str, ColumnElement[Any]], id_col: ColumnElement[Any]) -> list[Any]:
    col = sortable[page.sort]
    if page.direction is SortDirection.DESC:
        return [col.desc(), id_col.desc()] if col is not id_col else [id_col.desc()]
    return [col.asc(), id_col.asc()] if col is not id_col else [id_col.asc()]


async def page_flat(
    conn: AsyncConnection,
    stmt: Select[Any],
    page: PageArgs,
    sortable: dict[str, ColumnElement[Any]],
    id_col: ColumnElement[Any],
    build: Callable[[Any], R],
) -> Page[R]:
    """One page of `stmt` and the total, in one query (COUNT(*) OVER ())."""
    windowed = stmt.add_columns(func.count().over().label("_total"))
    windowed = windowed.order_by(*order_by(page, sortable, id_col)).limit(page.limit).offset(page.offset)
    rows = list((await conn.execute(windowed)).mappings())
    if rows:
        return Page(items=[build(r) for r in rows], total=int(rows[0]["_total"]), offset=page.offset)
    if page.offset == 0 and page.limit > 0:
        return Page(items=[], total=0)
    # Past the end: the window saw no row, so count separately (rare).
    total = (await conn.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()
    return Page(items=[], total=int(total), offset=page.offset)


async def page_by_parent(
    conn: AsyncConnection,
    stmt: Select[Any],
    parent: ColumnElement[Any],
    parents: Sequence[K],
    page: PageArgs,
    sortable: dict[str, ColumnElement[Any]],
    id_col: ColumnElement[Any],
    build: Callable[[Any], R],
) -> dict[K, Page[R]]:
    """A page of children for every parent at once: one windowed query for the whole batch."""
    result: dict[K, Page[R]] = {p: Page(items=[], total=0, offset=page.offset) for p in parents}
    if not parents:
        return result
    order = order_by(page, sortable, id_col)
    inner = (
        stmt.add_columns(
            parent.label("_parent"),
            func.row_number().over(partition_by=parent, order_by=order).label("_rn"),
            func.count().over(partition_by=parent).label("_total"),
        )
        .where(parent.in_(list(parents)))
        .subquery()
    )
    outer = (
        select(inner)
        .where(inner.c._rn > page.offset, inner.c._rn <= page.offset + page.limit)
        .order_by(inner.c._parent, inner.c._rn)
    )
    grouped: dict[K, list[R]] = {}
    totals: dict[K, int] = {}
    for row in (await conn.execute(outer)).mappings():
        key = row["_parent"]
        grouped.setdefault(key, []).append(build(row))
        totals[key] = int(row["_total"])
    missing = [p for p in parents if p not in totals]
    if missing and (page.offset > 0 or page.limit == 0):
        counted = stmt.add_columns(parent.label("_parent")).where(parent.in_(missing)).subquery()
        count_stmt = select(counted.c._parent, func.count()).group_by(counted.c._parent)
        for key, total in (await conn.execute(count_stmt)).all():
            totals[key] = int(total)
    for key in parents:
        result[key] = Page(items=grouped.get(key, []), total=totals.get(key, 0), offset=page.offset)
    return result


def by_key(records: Iterable[R], key: Callable[[R], K]) -> dict[K, R]:
    return {key(r): r for r in records}
