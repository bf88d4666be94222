"""The graph's building blocks: edges and permissions declared as data, and Relay connections.

An edge is declared once, on the type that owns it, as *which parent attribute holds the key* and
*which loader resolves it* (`batched`, `paged`). The resolver is derived from that declaration and
the declaration is kept in the field's metadata (`EDGE`), so a query planner can fetch a whole
level of edges in one batch without running the resolver. Permissions are declared the same way
(`Need` for root fields, `Guard` for private fields and edges) and checked per parent before
anything is loaded; what is loaded is then held to its type's record rule (permissions.py). No
edge hides logic in a hand-written resolver.

Imports context, loaders, models, errors, permissions; never a backend.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Generic, TypeVar

import strawberry
from strawberry.types.fields.resolver import StrawberryResolver

from facade.auth import Principal, TokenKind
from facade.context import Context
from facade.errors import BadUserInput, Forbidden, NotFound
from facade.graph.edges import EDGE, GUARD, HELD, NEED, EdgeSpec, make_page_args
from facade.graph.inputs import CURSOR, INT32_MAX, PAGE_SIZE, arg, check_arguments
from facade.graph.permissions import (
    Guard,
    admit,
    admitted,
    field_rule,
    is_admin,
    is_member,
    is_owner_or_owners_admin,
    is_self,
    refusal,
)
from facade.graph.stage import EXECUTION, Raised, covered_here, stage_result
from facade.models import PageArgs, SortDirection, check_uid

Info = strawberry.Info[Context, None]
T = TypeVar("T")

SortDirectionEnum = strawberry.enum(SortDirection, description="Sort order of a list.")

# ---------------------------------------------------------------------------------------------
# Permissions


class Need(enum.Enum):
    """What a root field needs from the caller; checked before the resolver runs."""

    PUBLIC = "public"
    USER = "user"  # a signed-in user (login mutation token)
    TENANT_ADMIN = "tenant_admin"  # a user token, TENANT.ADMIN of the `tenant_uid` argument
    TENANT_MEMBER = "tenant_member"  # a user or device-user of the `tenant_uid` argument
    # A user or device-user: a field whose tenant is its record's (an order by its id), which the
    # resolver checks the caller is a member of.
    MEMBER = "member"
    DEVICE = "device"  # a linked Flow Retail device (deviceToken)
    DEVICE_USER = "device_user"  # a user signed in on a device (accessToken)


def check_need(context: Context, need: Need, kwargs: dict[str, Any]) -> Principal | None:
    if need is Need.PUBLIC:
        return context.principal
    principal = context.require_principal()
    if need is Need.USER:
        if principal.kind is not TokenKind.USER:
            raise Forbidden("This field needs a signed-in user, not a device or access token.")
    elif need is Need.MEMBER:
        if principal.kind is TokenKind.DEVICE:
            raise Forbidden("This field needs a signed-in user, on a device or not, not a device token.")
    elif need in (Need.TENANT_ADMIN, Need.TENANT_MEMBER):
        tenant_uid = check_uid(kwargs["tenant_uid"], "tenantUid")
        if not is_member(principal, tenant_uid):
            raise Forbidden("You are not a member of this tenant.")
        if need is Need.TENANT_ADMIN and not is_admin(principal, tenant_uid):
            raise Forbidden("This needs the TENANT.ADMIN permission, signed in as a user.")
    elif need is Need.DEVICE:
        if principal.kind is not TokenKind.DEVICE:
            raise Forbidden("This field needs a device token (from linkDevice).")
    elif need is Need.DEVICE_USER and principal.kind is not TokenKind.ACCESS:
        raise Forbidden("This field needs an access token (from deviceLogin).")
    return principal


def validated(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`fn` with its arguments checked against their declared rules first (graph/inputs.py)."""
    resolver = StrawberryResolver(fn)  # reads the annotations on first use, when every type exists

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        check_arguments(resolver.arguments, kwargs)
        return fn(*args, **kwargs)

    return run


def guarded(need: Need) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declares what a root resolver needs; the check runs before it, from the declaration, then
    the arguments' rules (`validated`: the compiled path calls that, `__wrapped__`, too)."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        fn = validated(fn)

        @functools.wraps(fn)
        async def run(*args: Any, **kwargs: Any) -> Any:
            info = kwargs["info"]
            execution = EXECUTION.get()
            replay = execution.replay if execution is not None else None
            replayed = replay is not None and info.path.key in replay
            if replayed:
                # A compiled run already called this resolver (compiled.py), and `replay` lists the
                # roots in the order they finished there: answer after as many loop turns as roots
                # finished before this one, so that errors come in the standard executor's order.
                for _ in range(list(replay).index(info.path.key)):  # type: ignore[arg-type]
                    await asyncio.sleep(0)
            check_need(info.context, need, kwargs)
            if replayed:
                result = replay[info.path.key]  # type: ignore[index]
                if isinstance(result, Raised):
                    raise result.error
            else:
                result = fn(*args, **kwargs)
                if inspect.isawaitable(result):
                    result = await result
            # The record rule of what the field returns, as on every other road to it.
            result = await admit(info.context, field_rule(info), result)
            # Load the selected edges of the whole result now, in rounds (stage.py), so that
            # graphql-core finds every item's edges already loaded (stage.py).
            await stage_result(info, result)
            return result

        wrapper: Any = run
        wrapper.__facade_need__ = need
        return wrapper  # type: ignore[no-any-return]

    return decorate


def root_field(need: Need, **options: Any) -> Callable[[Callable[..., Any]], Any]:
    """`strawberry.field` for a root resolver, with its permission declared and recorded."""

    def decorate(fn: Callable[..., Any]) -> Any:
        return strawberry.field(resolver=guarded(need)(fn), metadata={NEED: need}, **options)

    return decorate


def root_mutation(need: Need, **options: Any) -> Callable[[Callable[..., Any]], Any]:
    def decorate(fn: Callable[..., Any]) -> Any:
        return strawberry.mutation(resolver=guarded(need)(fn), metadata={NEED: need}, **options)

    return decorate


def member_of(tenant_of: Callable[[Any], str | None]) -> Guard:
    """A guard: the caller is a member (a person, not a device) of the parent's tenant."""

    def check(principal: Principal | None, parent: Any) -> bool:
        return is_member(principal, tenant_of(parent))

    check.__doc__ = "a member of the parent's tenant"
    return check


def self_or_tenant_admin(principal: Principal | None, user: Any) -> bool:
    """The user themself (a user token), or a TENANT.ADMIN user of the user's tenant."""
    return is_owner_or_owners_admin(principal, user.id, user)


def self_or_colleague(principal: Principal | None, user: Any) -> bool:
    """The user themself, or a member of the user's tenant (a device token is neither)."""
    return is_self(principal, user.id) or is_member(principal, user.tenant_id)


def enforce(guard: Guard | None, info: Info, parent: Any) -> None:
    if guard is None or guard(info.context.principal, parent):
        return
    raise refusal(info.context)


def private(attr: str, guard: Guard, *, description: str | None = None) -> Any:
    """A field only some callers may read (personal data): null and FORBIDDEN for the others."""

    def resolve(root: Any, info: Info) -> Any:
        enforce(guard, info, root)
        return getattr(root, attr)

    resolve.__annotations__ = {"root": Any, "info": Info}
    return strawberry.field(resolver=resolve, description=description, metadata={GUARD: guard})


def held(attr: str, *, description: str | None = None) -> Any:
    """A payload's field holding a record (a mutation's device): the record's rule applies, as on
    an edge. Every field that produces a record under a rule is a root field, an edge or this
    (checked when the schema is built: permissions.unchecked_fields)."""

    def resolve(root: Any, info: Info) -> Any:
        return admitted(info.context, field_rule(info), getattr(root, attr))

    resolve.__annotations__ = {"root": Any, "info": Info}
    return strawberry.field(resolver=resolve, description=description, metadata={HELD: attr})


# ---------------------------------------------------------------------------------------------
# Edges


def settled(future: Any) -> Any:
    """A loaded value without an awaitable when the loader already has it (staged, stage.py)."""
    return future.result() if future.done() else future


def batched(
    loader: str,
    key: str,
    *,
    guard: Guard | None = None,
    embedded: str | None = None,
    covers: frozenset[str] = frozenset(),
    description: str | None = None,
) -> Any:
    """A to-one edge: the parent's `key` attribute, loaded by the `loader` ById loader; or, where
    the parent's `embedded` attribute holds the record and the selection reads only fields in
    `covers`, that record, with no load (EdgeSpec)."""
    edge = EdgeSpec(loader=loader, key=key, guard=guard, embedded=embedded, covers=covers)

    def resolve(root: Any, info: Info) -> Any:
        enforce(guard, info, root)
        if embedded is not None:
            held = getattr(root, embedded)
            if held is not None and covered_here(edge, info):
                return admitted(info.context, field_rule(info), held)
        value = getattr(root, key)
        if value is None:
            return None
        return admitted(info.context, field_rule(info), settled(getattr(info.context.loaders, loader).load(value)))

    resolve.__annotations__ = {"root": Any, "info": Info}
    return strawberry.field(resolver=resolve, description=description, metadata={EDGE: edge})


def listed(loader: str, key: str, *, guard: Guard | None = None, description: str | None = None) -> Any:
    """A short, unpaged to-many edge (e.g. a store's tills, an app's manifests)."""
    edge = EdgeSpec(loader=loader, key=key, guard=guard)

    def resolve(root: Any, info: Info) -> Any:
        enforce(guard, info, root)
        loaded = settled(getattr(info.context.loaders, loader).load(getattr(root, key)))
        return admitted(info.context, field_rule(info), loaded)

    resolve.__annotations__ = {"root": Any, "info": Info}
    return strawberry.field(resolver=resolve, description=description, metadata={EDGE: edge})


def page_args(
    info: Info,
    first: int | None,
    after: str | None,
    sort: enum.Enum | None,
    direction: SortDirection | None,
) -> PageArgs:
    return make_page_args(info.context.settings, first, after, sort, direction)


def paged(
    loader: str,
    key: str,
    *,
    sort: type[enum.Enum],
    guard: Guard | None = None,
    filters: Sequence[tuple[str, Any, Any]] = (),
    fixed: Sequence[Any] = (),
    description: str | None = None,
) -> Any:
    """A to-many edge answered as a Relay connection: `loader` is a PagesOf loader keyed by
    (parent key, page, *fixed, *filters)."""
    edge = EdgeSpec(
        loader=loader,
        key=key,
        guard=guard,
        paged=True,
        sort=sort,
        filters=tuple(filters),
        fixed=tuple(fixed),
    )

    def resolve(root: Any, info: Info, **kwargs: Any) -> Any:
        enforce(guard, info, root)
        extra = edge.page_key(info.context.settings, kwargs)
        loaded = settled(getattr(info.context.loaders, loader).load((getattr(root, key), *extra)))
        return admitted(info.context, field_rule(info), loaded)

    params = [
        inspect.Parameter("root", inspect.Parameter.POSITIONAL_OR_KEYWORD),
        inspect.Parameter("info", inspect.Parameter.KEYWORD_ONLY, annotation=Info),
        *connection_parameters(sort),
        *(
            inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=typ, default=default)
            for name, typ, default in filters
        ),
    ]
    resolve.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    resolve.__annotations__ = {p.name: p.annotation for p in params if p.annotation is not p.empty}
    resolve.__annotations__["root"] = Any
    return strawberry.field(resolver=resolve, description=description, metadata={EDGE: edge})


def connection_parameters(sort: type[enum.Enum]) -> list[inspect.Parameter]:
    kw = inspect.Parameter.KEYWORD_ONLY
    return [
        inspect.Parameter("first", kw, annotation=Annotated[int | None, arg(PAGE_SIZE)], default=None),
        inspect.Parameter("after", kw, annotation=Annotated[str | None, arg(CURSOR)], default=None),
        inspect.Parameter("sort_by", kw, annotation=sort | None, default=None),
        inspect.Parameter("sort_direction", kw, annotation=SortDirection | None, default=None),
    ]


# ---------------------------------------------------------------------------------------------
# Connections


@strawberry.type(description="Where a page sits in its list (Relay).")
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type(description="An item in a list, with its cursor (Relay).")
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type(description="A page of a list (Relay).")
class Connection(Generic[T]):
    """Subclass per node type (`class ProductConnection(Connection[Product])`); a Page is what
    it resolves against."""

    edges: list[Edge[T]]
    nodes: list[T] = strawberry.field(description="The page's items, without cursors.")
    page_info: PageInfo
    total_count: int = strawberry.field(description="How many items the whole list has.")


def int_id(value: str, name: str = "id") -> int:
    """A numeric id given as a GraphQL ID: digits only, 1 to 2^31 - 1 (what a GraphQL Int and a
    PostgreSQL integer column hold); BadUserInput for anything else."""
    if not isinstance(value, str) or not value.isascii() or not value.isdigit() or len(value) > 10:
        raise BadUserInput(f"`{name}` must be a numeric id.", field=name)
    number = int(value)
    if not 1 <= number <= INT32_MAX:
        raise BadUserInput(f"`{name}` must be an id between 1 and {INT32_MAX}.", field=name)
    return number


async def found(future: Any, what: str) -> Any:
    """The loaded record, or NotFound: for root lookups where null would hide a typo."""
    record = await future
    if record is None:
        raise NotFound(f"No {what} with that id.")
    return record


__all__ = [
    "EDGE",
    "GUARD",
    "HELD",
    "NEED",
    "Connection",
    "Edge",
    "EdgeSpec",
    "Guard",
    "Info",
    "Need",
    "PageInfo",
    "SortDirectionEnum",
    "batched",
    "check_need",
    "enforce",
    "found",
    "guarded",
    "held",
    "int_id",
    "listed",
    "member_of",
    "page_args",
    "paged",
    "private",
    "root_field",
    "root_mutation",
    "self_or_colleague",
    "self_or_tenant_admin",
    "settled",
]
