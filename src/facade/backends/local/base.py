"""What every local-store module shares: the engine, row-to-record mapping and paging.

Paging a list that hangs off many parents is one windowed query (ROW_NUMBER and COUNT over a
partition by parent), so `store.products` for 100 stores costs one SELECT, not 100.

The pattern of a hot read (every by-id batch and every list the graph pages), for each new
domain to follow:

- **Statements built once.** A read's SELECT is a module constant whose varying values are bind
  parameters: `in_keys(column)` for a batch of ids (an expanding IN, so one statement serves any
  batch size), `bindparam("name")` for a filter's value. A list is a `Listing` made at import
  time; it builds its windowed SELECT once per sort key and direction, LIMIT/OFFSET and the
  row-number window bound at execution. A statement object that is reused keeps its memoized
  cache key, so SQLAlchemy's compiled cache answers without building or compiling anything per
  request. Sort keys and windows are still checked on every page (`check_page`: BadUserInput).
  A read whose filters vary per call (a search) makes its Listing per call: nothing is kept.
- **Rows the store wrote are not validated again.** `construct(Model)` makes a record from a
  row's dict as `Record.trusted` does (no validation, no copy; defaults filled for fields the
  table lacks; one fields-set per class). Nested records and enums are built explicitly by
  the domain's `build_*` (Address, Category, TenantRole); aware UTC datetimes and decoded JSON
  come from the column types. What a client sends is validated where it is written (the
  graph's inputs and sizes, the write methods here), which is what makes reading it back
  trusted. Records built from other sources (a write's own values) may still validate.

Measured on the four reads behind list-100 (100 products with store, owner and 3 reviews),
LocalStore alone, minimum CPU per round on a shared machine: 18.1 ms before, 11.9 ms after
(another run: 15.3 -> 11.8); the stdlib `sqlite3` does the same reads in about 1.7 ms, the rest
being aiosqlite's thread hop, SQLAlchemy's execution and result processing. Running SQL text
per dialect with `exec_driver_sql` saved only about 8% more on the reviews page: dropped.

- **A hot read on a SQLite file runs on the driver** (`read_dicts`, `_Driven`): SQLAlchemy
  compiles the statement once (SQL, parameter order, column names, its own conversions of the
  values), and every later read runs that SQL on the DBAPI cursor: a user by id 145 -> 32 us, 100
  SKUs by product 480 -> 170 us. A statement read once (a search's) stays SQLAlchemy's, so does
  anything `_Driven` does not take (an empty IN list), and every read while a listener counts or
  traces statements (`before_cursor_execute`). PostgreSQL's reads are SQLAlchemy's.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import weakref
from collections.abc import AsyncIterator, Callable, Hashable, Iterable, Sequence
from typing import Any, Protocol, TypeVar

from sqlalchemy import ColumnElement, Connection, Engine, Integer, Select, and_, bindparam, func, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from facade.errors import BadUserInput
from facade.models import Page, PageArgs, Record, SortDirection

# What a page holds: usually a record, sometimes a row a caller finishes into a record later
# (subscriptions: once their line items are fetched for the whole page).
R = TypeVar("R")
K = TypeVar("K", bound=Hashable)
M = TypeVar("M", bound=Record)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def dicts(result: Any) -> list[dict[str, Any]]:
    """A result's rows as plain dicts. `RowMapping` builds a key view per row on every `dict(row)`,
    which was a fifth of a 100-product request's time; zipping with the keys once is not."""
    keys = list(result.keys())
    return [dict(zip(keys, row, strict=True)) for row in result.all()]


def construct(cls: type[M]) -> Callable[[dict[str, Any]], M]:
    """A trusted constructor of `cls` for rows the store itself wrote: `Record.trusted`, plus the
    defaults of the fields a row lacks (`Product.embedded_store`, `Device.store_uid`).

    The returned function takes a dict of field values (no key that is not a field; it keeps the
    dict as the record's own). Values were checked when they were written (the graph's inputs,
    the seed), and the read's own conversions (aware UTC datetimes, JSON decoding) happen in the
    column types; enums and nested records are the caller's to build. `model_validate` of the
    same dict gives an equal record (tests/backends/test_local_store.py).
    """
    defaults: dict[str, Any] = {}
    for name, info in cls.model_fields.items():
        if info.default_factory is not None:
            raise TypeError(f"{cls.__name__}.{name}: a default factory has no trusted construction")
        if not info.is_required():
            defaults[name] = info.default
    trusted = cls.trusted
    if not defaults:
        return trusted
    size = len(cls.model_fields)

    def build(values: dict[str, Any]) -> M:
        if len(values) != size:  # a field left to its default (immutable: factories refused above)
            values = {**defaults, **values}
        return trusted(values)

    return build


class Reads(Protocol):
    """What a read needs of a connection: `await conn.execute(stmt, params)`."""

    async def execute(self, statement: Any, parameters: Any = None) -> Any: ...


# The SQLite engines whose reads run on the event loop's own thread (`reading`), by async engine.
_ON_LOOP: weakref.WeakKeyDictionary[AsyncEngine, Engine] = weakref.WeakKeyDictionary()


def read_on_loop(engine: AsyncEngine, sync: Engine) -> None:
    """Makes `reading(engine)` run its statements on `sync`, a synchronous engine on the same
    SQLite file, in the calling thread (see `reading`)."""
    _ON_LOOP[engine] = sync


def loop_engine(engine: AsyncEngine) -> Engine | None:
    return _ON_LOOP.get(engine)


def engines(engine: AsyncEngine) -> list[Engine]:
    """Every engine that runs the store's statements (for listeners: counts, tracing): the async
    engine's own and, on a SQLite file, the one its reads run on."""
    loop = _ON_LOOP.get(engine)
    return [engine.sync_engine] if loop is None else [engine.sync_engine, loop]


class _Now:
    """A synchronous connection behind `Reads`: the statement runs when awaited, in this thread."""

    __slots__ = ("conn",)

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    async def execute(self, statement: Any, parameters: Any = None) -> Any:
        return self.conn.execute(statement, parameters)

    def rows(self, statement: Any, parameters: dict[str, Any] | None) -> list[dict[str, Any]]:
        """`dicts(self.execute(...))`, by `_Driven` where it can (see there)."""
        conn = self.conn
        dispatch = conn.engine.dispatch
        # SQLAlchemy's while someone counts or traces statements, and for what `_Driven` does not take.
        traced = dispatch.before_cursor_execute or dispatch.after_cursor_execute
        driven = None if traced else _driven(statement, conn.dialect)
        found = None if driven is None else driven.rows(conn, parameters or {})
        return dicts(conn.execute(statement, parameters)) if found is None else found


class _Driven:
    """A hot SELECT run on SQLite's driver: SQLAlchemy compiles it once (its SQL, the order of its
    parameters, each column's name and SQLAlchemy's own conversion of its values, `UTCDateTime`'s
    and `Boolean`'s), and every later read runs that SQL on the connection's DBAPI cursor.

    SQLAlchemy's execution of a cached statement costs 0.1 ms and more a read beside SQLite's
    own tens of microseconds (an execution context, the expanding IN rewritten per call, a result
    object and its rows): the local store's join-key reads were a tenth of a catalog request in
    upstream mode. `rows` answers None for what it does not take (an empty or tuple IN list, a
    parameter it cannot find), which SQLAlchemy then runs.
    """

    __slots__ = ("binds", "keys", "parts", "processors", "sql")

    def __init__(self, compiled: Any) -> None:
        self.keys = [column.keyname for column in compiled._result_columns]
        dialect = compiled.dialect
        self.processors = [
            (i, processor)
            for i, column in enumerate(compiled._result_columns)
            if (processor := column.type._cached_result_processor(dialect, None)) is not None
        ]
        # (name, expanding, bind processor, the bind: its own value when the parameters lack one)
        self.binds = [
            (name, bind.expanding, bind.type._cached_bind_processor(dialect), bind)
            for name in compiled.positiontup
            for bind in (compiled.binds[name],)
        ]
        self.parts = _POSTCOMPILE.split(compiled.string)
        self.sql: dict[tuple[int, ...], str] = {}

    def rows(self, conn: Connection, parameters: dict[str, Any]) -> list[dict[str, Any]] | None:
        values: list[Any] = []
        sizes: list[int] = []
        for name, expanding, process, bind in self.binds:
            if name in parameters:
                value = parameters[name]
            elif bind.callable is None and not bind.required:
                value = bind.value
            else:
                return None
            if expanding:
                if not value:
                    return None
                kinds = set(map(type, value))  # in C: a batch's IN list holds hundreds of keys
                if tuple in kinds or list in kinds:
                    return None
                sizes.append(len(value))
                values.extend(value if process is None else [process(v) for v in value])
            else:
                values.append(value if process is None else process(value))
        shape = tuple(sizes)
        sql = self.sql.get(shape)
        if sql is None:
            sql = self.sql[shape] = _expand(self.parts, shape)
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            found = cursor.execute(sql, values).fetchall()
        finally:
            cursor.close()
        keys, processors = self.keys, self.processors
        if not processors:
            # The driver's rows have the compiled columns, one value each: no length check.
            return [dict(zip(keys, row)) for row in found]  # noqa: B905
        out = []
        for row in found:
            listed = list(row)
            for i, process in processors:
                listed[i] = process(listed[i])
            out.append(dict(zip(keys, listed, strict=True)))
        return out


_POSTCOMPILE = re.compile(r"\(__\[POSTCOMPILE_\w+\]\)")


def _expand(parts: list[str], sizes: tuple[int, ...]) -> str:
    """The SQL with each expanding IN list written out as that many `?`."""
    out = [parts[0]]
    for part, size in zip(parts[1:], sizes, strict=True):
        out.append("(" + ", ".join("?" * size) + ")")
        out.append(part)
    return "".join(out)


# A statement's `_Driven` (None for one it does not take), made the second time it is read: a
# statement built per call, as a search's, is read once and stays SQLAlchemy's, whose compiled
# cache serves it. Weak: a statement gone takes its entries along.
_DRIVEN: weakref.WeakKeyDictionary[Any, _Driven | None] = weakref.WeakKeyDictionary()
_SEEN_ONCE: weakref.WeakSet[Any] = weakref.WeakSet()
_UNDECIDED = object()


def _driven(statement: Any, dialect: Any) -> _Driven | None:
    try:
        found = _DRIVEN.get(statement, _UNDECIDED)
        if found is not _UNDECIDED:
            return found  # type: ignore[return-value]
        if statement not in _SEEN_ONCE:
            _SEEN_ONCE.add(statement)
            return None
    except TypeError:  # not weakly referenceable: SQLAlchemy's
        return None
    _SEEN_ONCE.discard(statement)
    made = _DRIVEN[statement] = _made(statement, dialect)
    return made


def _made(statement: Any, dialect: Any) -> _Driven | None:
    if dialect.name != "sqlite" or dialect.paramstyle != "qmark" or not isinstance(statement, Select):
        return None
    compiled = statement.compile(dialect=dialect)
    if not compiled._result_columns or compiled.positiontup is None or compiled.escaped_bind_names:
        return None
    keys = [column.keyname for column in compiled._result_columns]
    if len(set(keys)) != len(keys) or "__[POSTCOMPILE_" in _POSTCOMPILE.sub("", compiled.string):
        return None
    if any(name not in compiled.binds for name in compiled.positiontup):
        return None
    return _Driven(compiled)


@contextlib.asynccontextmanager
async def reading(engine: AsyncEngine) -> AsyncIterator[Reads]:
    """A connection for reads. On a SQLite file it is synchronous, on the event loop's thread: a
    hot read takes a fraction of a millisecond from the page cache, less than aiosqlite's hop to
    its one thread and back (the hop and the GIL passed between the threads were a third of a
    local list's time); WAL lets it read beside any writer. Elsewhere, the async engine's."""
    sync = _ON_LOOP.get(engine)
    if sync is None:
        async with engine.connect() as conn:
            yield conn
    else:
        with sync.connect() as conn:
            yield _Now(conn)


async def read_dicts(conn: Reads, stmt: Any, params: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The rows of a SELECT as dicts (`dicts`), by the driver on a SQLite file (`_Now.rows`)."""
    if type(conn) is _Now:
        return conn.rows(stmt, params)
    return dicts(await conn.execute(stmt, params))


class Repository:
    """A domain's slice of the local store: holds the engine, opens a connection per call."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def rows(self, stmt: Select[Any], params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        async with reading(self.engine) as conn:
            return await read_dicts(conn, stmt, params)


def in_keys(column: ColumnElement[Any], name: str = "keys") -> ColumnElement[bool]:
    """`column IN (:name)` with the list bound at execution: a statement built once serves any
    batch (SQLAlchemy expands the list into the cached compiled SQL)."""
    return column.in_(bindparam(name, expanding=True))


def check_page(page: PageArgs, sortable: dict[str, ColumnElement[Any]]) -> None:
    """Every page of every list passes through here, so this is where a sort key or a window that
    the entity cannot honour becomes BadUserInput instead of a KeyError (a masked internal error)
    or a negative LIMIT (which SQLite reads as "no limit")."""
    if page.sort not in sortable:
        raise BadUserInput(f"sort must be one of: {', '.join(sorted(sortable))}", field="sort")
    if page.limit < 0 or page.offset < 0:
        raise BadUserInput("limit and offset must not be negative", field="limit")


def order_by(page: PageArgs, sortable: dict[str, ColumnElement[Any]], id_col: ColumnElement[Any]) -> list[Any]:
    """ORDER BY for a page: the sort column, then id so pages are stable when sort values tie."""
    check_page(page, sortable)
    col = sortable[page.sort]
    if page.direction is SortDirection.DESC:
        return [col.desc(), id_col.desc()] if col is not id_col else [id_col.desc()]
    return [col.asc(), id_col.asc()] if col is not id_col else [id_col.asc()]


_LIMIT = bindparam("page_limit", type_=Integer)
_OFFSET = bindparam("page_offset", type_=Integer)
_FIRST = bindparam("page_first", type_=Integer)
_LAST = bindparam("page_last", type_=Integer)


class Listing:
    """A list's statements, built once per sort order and then reused for every page.

    `stmt` is the list's SELECT, whose varying values are bind parameters (`in_keys`,
    `bindparam`) passed to `page_flat` / `page_by_parent` as `params`; `parent` is the column a
    list of many parents is partitioned by. A Listing made at import time (every hot list) costs
    its statements once per process: the windowed SELECT for a sort key and direction is built on
    its first page, and SQLAlchemy's compiled cache then finds it by its memoized cache key, so a
    request builds no statement and compiles no SQL. A Listing made per call (a search whose
    filters vary) caches nothing beyond that call.
    """

    def __init__(
        self,
        stmt: Select[Any],
        sortable: dict[str, ColumnElement[Any]],
        id_col: ColumnElement[Any],
        parent: ColumnElement[Any] | None = None,
    ) -> None:
        self.stmt = stmt
        self.sortable = sortable
        self.id_col = id_col
        self.parent = parent
        self._flat: dict[tuple[str, SortDirection], Select[Any]] = {}
        self._of_parent: dict[tuple[str, SortDirection], Select[Any]] = {}
        self._by_parent: dict[tuple[str, SortDirection], Select[Any]] = {}
        self._count: Select[Any] | None = None

    def flat(self, page: PageArgs) -> Select[Any]:
        """One page and the total: LIMIT/OFFSET as `page_limit`/`page_offset`.

        The total is an uncorrelated scalar subquery, which the database counts once from an
        index; `COUNT(*) OVER ()` would make it read and sort every matching row with all its
        columns (2 ms against 0.16 ms for a 100-item page of 1,200 products on SQLite).
        """
        check_page(page, self.sortable)
        return self._paged(self._flat, self.stmt, page)

    def of_parent(self, page: PageArgs) -> Select[Any]:
        """`flat` of one parent's children, the parent bound as `page_parent`: what a batch of
        one parent reads instead of `by_parent`'s window (a tenant's first 5 stores of 20 on
        SQLite, the SQL alone: 33 us against the window's 114)."""
        if self.parent is None:
            raise TypeError("this Listing has no parent column")
        check_page(page, self.sortable)
        return self._paged(self._of_parent, self.stmt.where(self.parent == bindparam("page_parent")), page)

    def _paged(
        self, built: dict[tuple[str, SortDirection], Select[Any]], stmt: Select[Any], page: PageArgs
    ) -> Select[Any]:
        key = (page.sort, page.direction)
        found = built.get(key)
        if found is None:
            counted = stmt.with_only_columns(func.count(), maintain_column_froms=True).order_by(None)
            found = built[key] = (
                stmt.add_columns(counted.correlate(None).scalar_subquery().label("_total"))
                .order_by(*order_by(page, self.sortable, self.id_col))
                .limit(_LIMIT)
                .offset(_OFFSET)
            )
        return found

    def count(self) -> Select[Any]:
        if self._count is None:
            self._count = select(func.count()).select_from(self.stmt.subquery())
        return self._count

    def by_parent(self, page: PageArgs) -> Select[Any]:
        """Rows `page_first`..`page_last` (1-based) of each parent in `page_parents`, and row 1.

        Each parent's first row comes along even when the page starts past it: it carries the
        parent's total, so a page past the end (or of size 0) still needs no second query. A
        parent without any row has total 0, which its absence says.

        The window numbers the rows by their keys alone (id, parent and the sort's columns, from
        an index where there is one), and only the rows of the page are then read whole, joined
        by (id, parent): numbering the whole rows made the database carry every column of every
        child through two sorts (a tenant's stores, 20 rows for a page of 5: 170 us on SQLite,
        against 45 us so). An (id, parent) pair is one row of `stmt` in every listing.
        """
        if self.parent is None:
            raise TypeError("this Listing has no parent column")
        check_page(page, self.sortable)
        key = (page.sort, page.direction)
        built = self._by_parent.get(key)
        if built is None:
            parent = self.parent
            order = order_by(page, self.sortable, self.id_col)
            numbered = (
                self.stmt.with_only_columns(
                    self.id_col.label("_id"),
                    parent.label("_parent"),
                    func.row_number().over(partition_by=parent, order_by=order).label("_rn"),
                    func.count().over(partition_by=parent).label("_total"),
                    maintain_column_froms=True,
                )
                .where(in_keys(parent, "page_parents"))
                .subquery()
            )
            # Subscript, not attribute access: `.c._parent` is the column collection's own parent
            # collection, which silently ordered by every column instead of (parent, row number).
            rn, parent_col = numbered.c["_rn"], numbered.c["_parent"]
            built = (
                self.stmt.add_columns(parent_col, rn, numbered.c["_total"])
                .join(numbered, and_(self.id_col == numbered.c["_id"], parent == parent_col))
                .where(or_(and_(rn >= _FIRST, rn <= _LAST), rn == 1))
                .order_by(parent_col, rn)
            )
            self._by_parent[key] = built
        return built


async def page_flat(
    conn: Reads,
    listing: Listing,
    page: PageArgs,
    build: Callable[[dict[str, Any]], R],
    params: dict[str, Any] | None = None,
) -> Page[R]:
    """One page of `listing` and the total, in one query (`params`: the listing's own binds)."""
    stmt = listing.flat(page)
    values = {**(params or {}), "page_limit": page.limit, "page_offset": page.offset}
    rows = await read_dicts(conn, stmt, values)
    if rows:
        total = int(rows[0]["_total"])
        for row in rows:
            del row["_total"]
        return Page(items=[build(r) for r in rows], total=total, offset=page.offset)
    if page.offset == 0 and page.limit > 0:
        return Page(items=[], total=0)
    # Past the end: no row carries the total, so count separately (rare).
    total = (await conn.execute(listing.count(), params)).scalar_one()
    return Page(items=[], total=int(total), offset=page.offset)


async def page_by_parent(
    conn: Reads,
    listing: Listing,
    parents: Sequence[K],
    page: PageArgs,
    build: Callable[[dict[str, Any]], R],
    params: dict[str, Any] | None = None,
) -> dict[K, Page[R]]:
    """A page of children for every parent at once: one windowed query for the whole batch (one
    parent: `Listing.of_parent`'s LIMIT/OFFSET, unless its page comes back empty)."""
    if parents and len(set(parents)) == 1:
        one = parents[0]
        values = {
            **(params or {}),
            "page_parent": one,
            "page_parents": [one],  # a listing may hold it in its own statement (products a user bought)
            "page_limit": page.limit,
            "page_offset": page.offset,
        }
        rows = await read_dicts(conn, listing.of_parent(page), values)
        if rows:
            total = int(rows[0]["_total"])
            for row in rows:
                del row["_total"]
            return {one: Page(items=[build(r) for r in rows], total=total, offset=page.offset)}
        if page.offset == 0 and page.limit > 0:
            return {one: Page(items=[], total=0, offset=0)}
        # A page past the end, or of no items: the window below gives the total.
    stmt = listing.by_parent(page)
    result: dict[K, Page[R]] = {p: Page(items=[], total=0, offset=page.offset) for p in parents}
    if not parents:
        return result
    first, last = page.offset + 1, page.offset + page.limit
    values = {**(params or {}), "page_parents": list(set(parents)), "page_first": first, "page_last": last}
    grouped: dict[K, list[R]] = {}
    totals: dict[K, int] = {}
    for row in await read_dicts(conn, stmt, values):
        # The window's own columns leave the row, so `build` gets the columns of `stmt` alone.
        key = row.pop("_parent")
        totals[key] = int(row.pop("_total"))
        if first <= row.pop("_rn") <= last:
            grouped.setdefault(key, []).append(build(row))
    for key in parents:
        result[key] = Page(items=grouped.get(key, []), total=totals.get(key, 0), offset=page.offset)
    return result


def by_key(records: Iterable[R], key: Callable[[R], K]) -> dict[K, R]:
    return {key(r): r for r in records}
