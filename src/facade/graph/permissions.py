"""Who may see what: one rule per record type, one rule per private field, applied on every path.

A **record rule** says who may see a record of a type at all. It is declared once, on the
Strawberry type (`@record_rule(...)`), and applied wherever a record of that type is produced:
a root field's result, an edge's load, a mutation's payload, in the standard executor
(base.py) and in the compiled plan (compiled.py) alike. A refused record is null with a
FORBIDDEN error (UNAUTHENTICATED without a valid token); a list holding any record the caller
may not see is refused whole, never filtered, so that a page and its `totalCount` never disagree.
Every list edge is scoped so that, for a caller who may follow it, all its items pass.

A **field rule** (a `Guard`) says who may read one field of a record the caller can see: personal
details, pairing codes, and edges whose contents are private to the parent's circle (a store's
staff, a user's purchases). It is decided from the parent, before anything is loaded.

The predicates below are the vocabulary both kinds of rule are written in. A device token is
not a person: it is nobody's colleague and no tenant's member; it sees the device it stands for.

Imports auth, context, errors and models; never a backend.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from graphql import GraphQLList, GraphQLNonNull, GraphQLObjectType, GraphQLSchema

from facade.auth import Principal, TokenKind
from facade.context import Context
from facade.errors import Forbidden
from facade.models import Page

BACKREF = "strawberry-definition"
RULE = "__facade_rule__"

# A Guard decides from the principal and the *parent* whether a field may be read.
Guard = Callable[[Principal | None, Any], bool]


# ---------------------------------------------------------------------------------------------
# The vocabulary


def is_member(principal: Principal | None, tenant_id: str | None) -> bool:
    """A person of the tenant: a user token or a user signed in on one of its devices."""
    return (
        principal is not None
        and principal.kind is not TokenKind.DEVICE
        and tenant_id is not None
        and principal.tenant_id == tenant_id
    )


def is_admin(principal: Principal | None, tenant_id: str | None) -> bool:
    """A TENANT.ADMIN *user* token of the tenant (not a device nor an access token)."""
    return (
        principal is not None
        and principal.kind is TokenKind.USER
        and principal.is_tenant_admin
        and tenant_id is not None
        and principal.tenant_id == tenant_id
    )


def is_self(principal: Principal | None, user_id: int | None) -> bool:
    """The user themself (signed in, or signed in on a device)."""
    return (
        principal is not None
        and principal.kind is not TokenKind.DEVICE
        and user_id is not None
        and principal.user_id == user_id
    )


def is_of_tenant(principal: Principal | None, tenant_id: str | None) -> bool:
    """Any token of the tenant: its people and its devices."""
    return principal is not None and tenant_id is not None and principal.tenant_id == tenant_id


def is_user(principal: Principal | None, user_id: int | None) -> bool:
    """The user themself with a user token: FLECS purchases, subscriptions and licences are the
    FLECS user's, not a session on a Flow Retail device's (the FLECS API refuses those tokens)."""
    return principal is not None and principal.kind is TokenKind.USER and is_self(principal, user_id)


def is_owner_or_owners_admin(principal: Principal | None, owner_id: int | None, owner: Any) -> bool:
    """The owner themself with a user token, or a TENANT.ADMIN user of the owner's tenant (`owner`
    is the owner's User record, None when unknown): who sees a user's FLECS records."""
    return is_user(principal, owner_id) or (owner is not None and is_admin(principal, owner.tenant_id))


def is_device(principal: Principal | None, device_id: str | None) -> bool:
    """The device a device token (or a session on the device) stands for."""
    return principal is not None and device_id is not None and principal.device_id == device_id


# ---------------------------------------------------------------------------------------------
# Record rules


@dataclass(frozen=True, slots=True)
class Rule:
    """Who may see a record of one type. `check(principal, record, related)`; when the rule needs
    a record the checked one points at (a till's store, a licence's owner), `via` names the loader
    and the attribute holding its key, and `related` is that record (None when missing)."""

    check: Callable[[Principal | None, Any, Any], bool]
    text: str
    via: tuple[str, str] | None = None
    # The one attribute of the record that `check` reads (with the principal), when there is
    # one: a list's records are then decided once per distinct value (a catalog's 550 commerce
    # records share one tenant) instead of once each.
    by: str | None = None

    def allows(self, principal: Principal | None, record: Any, related: Any = None) -> bool:
        return self.check(principal, record, related)


def record_rule(
    check: Callable[[Principal | None, Any, Any], bool],
    text: str,
    *,
    via: tuple[str, str] | None = None,
    by: str | None = None,
) -> Callable[[type], type]:
    """Declares a Strawberry type's record rule (apply above `@strawberry.type`); `by` names the
    record's one attribute `check` reads, if it reads one (see `Rule.by`)."""

    def decorate(cls: type) -> type:
        setattr(cls, RULE, Rule(check=check, text=text, via=via, by=by))
        return cls

    return decorate


def _named(type_: Any) -> Any:
    while isinstance(type_, GraphQLNonNull | GraphQLList):
        type_ = type_.of_type
    return type_


_RULES: dict[str, Rule | None] = {}


def rule_of(type_: Any) -> Rule | None:
    """The record rule that applies to a value of GraphQL type `type_` (a record, a list of
    records, or a connection of them); None for public types."""
    named = _named(type_)
    if not isinstance(named, GraphQLObjectType):
        return None
    try:
        return _RULES[named.name]
    except KeyError:
        pass
    definition = (named.extensions or {}).get(BACKREF)
    rule = getattr(getattr(definition, "origin", None), RULE, None)
    if rule is None and "nodes" in named.fields and "pageInfo" in named.fields:
        rule = rule_of(named.fields["nodes"].type)  # a connection carries its nodes' rule
    _RULES[named.name] = rule
    return rule


def records(value: Any) -> list[Any]:
    """The records a field's value holds: a Page's items (and its owner, models.OwnedPage), a
    list's items, or the record."""
    if value is None:
        return []
    if isinstance(value, Page):
        held = [item for item in value.items if item is not None]
        owner = getattr(value, "owner", None)
        return held if owner is None else [*held, owner]
    if isinstance(value, list | tuple):
        return [item for item in value if item is not None]
    return [value]


def refusal(context: Context) -> Exception:
    """What a refused caller is told: why their credentials fail, else FORBIDDEN."""
    if context.principal is None:
        try:
            context.require_principal()
        except Exception as error:  # noqa: BLE001 - the reason to report
            return error
    return Forbidden("You may not see this: it belongs to another tenant or user.")


def permits_now(rule: Rule, principal: Principal | None, items: list[Any]) -> bool:
    """The check of a rule without `via`, for records at hand."""
    return all(rule.check(principal, item, None) for item in items)


async def permits(rule: Rule, context: Context, items: list[Any]) -> bool:
    """Whether the caller may see every one of `items` (loading what `via` names, batched)."""
    principal = context.principal
    if rule.via is None:
        return permits_now(rule, principal, items)
    loader_name, attribute = rule.via
    keys = [getattr(item, attribute) for item in items]
    wanted = list(dict.fromkeys(k for k in keys if k is not None))
    loaded = dict(zip(wanted, await getattr(context.loaders, loader_name).load_many(wanted), strict=True))
    return all(rule.check(principal, item, loaded.get(key)) for item, key in zip(items, keys, strict=True))


async def admit(context: Context, rule: Rule | None, value: Any) -> Any:
    """`value` if the caller may see every record in it; raises the refusal otherwise."""
    if hasattr(value, "__await__"):
        value = await value
    if rule is not None and not await permits(rule, context, records(value)):
        raise refusal(context)
    return value


def admitted(context: Context, rule: Rule | None, value: Any) -> Any:
    """`admit` without an awaitable where none is needed: a record at hand under a rule without
    `via` is checked at once (the staged edges of a list cost no awaitable per item)."""
    if rule is None:
        return value
    if rule.via is None and not hasattr(value, "__await__"):
        if not permits_now(rule, context.principal, records(value)):
            raise refusal(context)
        return value
    return admit(context, rule, value)


def field_rule(info: Any) -> Rule | None:
    """The record rule of the field `info` resolves (cached per type and field)."""
    raw = info._raw_info
    key = (raw.parent_type.name, raw.field_name)
    try:
        return _FIELD_RULES[key]
    except KeyError:
        rule = _FIELD_RULES[key] = rule_of(raw.return_type)
        return rule


_FIELD_RULES: dict[tuple[str, str], Rule | None] = {}


# ---------------------------------------------------------------------------------------------
# Every road to a protected record is a checked one


def producers(schema: GraphQLSchema) -> Iterator[tuple[str, str, Rule]]:
    """Every (type, field) whose value holds records under a rule, with that rule."""
    for type_ in schema.type_map.values():
        if not isinstance(type_, GraphQLObjectType) or type_.name.startswith("__"):
            continue
        for name, field in type_.fields.items():
            rule = rule_of(field.type)
            if rule is not None:
                yield type_.name, name, rule


def unchecked_fields(schema: GraphQLSchema, checked: Callable[[Any], bool]) -> list[str]:
    """The fields that produce records under a rule without applying it: anything but a root
    field, a declared edge, a `held` field or the inside of a connection (whose edge or root
    field checked the page). `checked(strawberry_field)` says whether a field applies rules."""
    carriers = {
        name
        for name, type_ in schema.type_map.items()
        if isinstance(type_, GraphQLObjectType)
        and rule_of(type_) is not None
        and getattr(getattr(type_.extensions.get(BACKREF), "origin", None), RULE, None) is None
    }
    # The edge types inside connections (DeviceEdge) carry the connection's page too.
    for name in list(carriers):
        edges = schema.type_map[name].fields.get("edges")  # type: ignore[attr-defined]
        if edges is not None:
            carriers.add(_named(edges.type).name)
    roots = {t.name for t in (schema.query_type, schema.mutation_type) if t is not None}
    found = []
    for type_name, name, _ in producers(schema):
        if type_name in roots or type_name in carriers:
            continue
        field = schema.type_map[type_name].fields[name]  # type: ignore[attr-defined]
        if not checked((field.extensions or {}).get(BACKREF)):
            found.append(f"{type_name}.{name}")
    return sorted(found)


__all__ = [
    "Guard",
    "Rule",
    "admit",
    "admitted",
    "field_rule",
    "is_admin",
    "is_device",
    "is_member",
    "is_of_tenant",
    "is_self",
    "is_user",
    "permits",
    "permits_now",
    "producers",
    "record_rule",
    "records",
    "refusal",
    "rule_of",
    "unchecked_fields",
]
