"""Every road to every protected record, for every kind of caller (issue 8 §2).

The paths are derived from the schema, not written down: every chain of fields from a root field of
`Query`, up to `DEPTH` object fields deep, that ends at a field producing a record under a record
rule (a tenant, device, till, licence, subscription) or at a private field (a user's e-mail, a
device's pairing code, a store's staff...). Root arguments are filled from the seeded store, one
variant per tenant where the argument names one, so each path is tried on the caller's own data
and on another tenant's. A new edge to a protected type is a new path here, checked the day it is
added.

Each caller sends, per root variant, one document holding all of its paths (every record on the
way selects its id), to the app that runs compiled plans and to the one that runs Strawberry's
standard executor: the two bodies must be the same bytes. Then every record and field in the
answer is judged against `RECORDS` and `FIELDS` below, the rules of the README's "Who sees what"
restated over the store's own rows (read with SQL, not through the graph):

- whatever the caller was shown, they may see;
- a private field of a record they were shown answers exactly when they may read it;
- every refusal is FORBIDDEN, or UNAUTHENTICATED for a caller without a valid token, and nothing
  else fails;
- every path shows its end to at least one caller (no path is only ever refused or empty).

Mutation payloads are roads too: `build_schema` refuses a field that produces a protected record
without applying its rule (permissions.unchecked_fields), and test_auth.py and
test_flow_devices.py send the mutations as their callers.
"""

from __future__ import annotations

import base64
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import graphql
import jwt
import orjson
import pytest
from sqlalchemy import select

from conftest import link_and_sign_in, mode, source_id
from facade.backends.local import tables as t
from facade.graph.base import EDGE, GUARD
from facade.graph.permissions import RULE
from facade.graph.schema import build_schema
from support.chaos import Twins

DEPTH = 5  # object fields below the root (a connection and its nodes count once)
FIRST = 2  # items per list
WIDE = 50  # items per list of a root's own record (a tenant's devices, a viewer's licences): all of them
ACME, NORDIC = "acme-retail", "nordic-bakeries"
# Each document holds every path of one root call: far beyond what the document limits let a client
# send (README "Limits"), which this test is not about.
LIMITS_OFF = {
    "max_document_length": 10_000_000,
    "max_tokens": 10_000_000,
    "max_depth": 100,
    "max_aliases": 10_000,
    "max_cost": 1_000_000_000,
}
SCHEMA = build_schema()
GQL: graphql.GraphQLSchema = SCHEMA._schema
# The types whose `id` is a global id (graph/nodes.py); the store's rows are by source id.
NODE_TYPES = frozenset(t.name for t in GQL.get_possible_types(GQL.type_map["Node"]))  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# The callers


@dataclass(frozen=True)
class Caller:
    name: str
    kind: str | None  # "user", "device", "access"; None without a valid token
    user_id: int | None = None
    tenant: str | None = None
    admin: bool = False
    device_id: str | None = None

    @property
    def valid(self) -> bool:
        return self.kind is not None


def member(c: Caller, tenant: str | None) -> bool:
    return c.kind in ("user", "access") and tenant is not None and c.tenant == tenant


def admin(c: Caller, tenant: str | None) -> bool:
    return c.kind == "user" and c.admin and tenant is not None and c.tenant == tenant


def itself(c: Caller, user_id: int | None) -> bool:
    return c.kind in ("user", "access") and user_id is not None and c.user_id == user_id


def the_user(c: Caller, user_id: int | None) -> bool:
    """With a user token: FLECS purchases are the FLECS user's, not a device session's."""
    return c.kind == "user" and itself(c, user_id)


# ---------------------------------------------------------------------------------------------
# The rules, restated over the store's rows (README "Who sees what")

Row = dict[str, Any]


@dataclass
class Truth:
    """The store's rows by GraphQL id, for each type the rules read."""

    rows: dict[str, dict[str, Row]] = field(default_factory=dict)

    def row(self, type_name: str, id_: Any) -> Row:
        return self.rows[type_name][str(id_)]

    def shown(self, type_name: str, global_or_source_id: Any) -> Row:
        """The row of a record as the graph answered it: a Node type's `id` is its global id."""
        if type_name in NODE_TYPES:
            return self.row(type_name, source_id(global_or_source_id))
        return self.row(type_name, global_or_source_id)


def _device(c: Caller, d: Row, truth: Truth) -> bool:
    if d["tenant_id"] is None and d["owner_id"] is None:
        return True  # registered, never authorized: nobody's
    return member(c, d["tenant_id"]) or itself(c, d["owner_id"]) or c.device_id == d["id"]


def _owners(c: Caller, user_id: int | None, truth: Truth) -> bool:
    owner = truth.rows["User"].get(str(user_id))
    return the_user(c, user_id) or (owner is not None and admin(c, owner["tenant_id"]))


PRODUCT_EDGES = ("prices", "stock", "orderLines")


def _product_afosto(c: Caller, p: Row, truth: Truth) -> bool:
    """A product's Afosto lists: persons of a tenant (the guard); of those, members of its SKU's
    tenant, the lists being that tenant's, empty or not; without a SKU, every one of them."""
    if c.kind not in ("user", "access") or c.tenant is None:
        return False
    ref = p.get("sku_ref")
    return ref is None or member(c, ref[0])


def _commerce(c: Caller, r: Row, truth: Truth) -> bool:
    """Afosto's records: members of the facade tenant linked to their Afosto tenant."""
    return member(c, r["tenant_id"])


# Afosto's record types (issue 11) and their tables; StockLevel and OrderLine have no id of their
# own (a row is found by its SKU), TenantAfosto by its Afosto tenant id.
COMMERCE = {
    "SalesChannel": "afosto_channels",
    "PriceGroup": "afosto_price_groups",
    "Price": "afosto_prices",
    "Location": "afosto_locations",
    "PostalAddress": "afosto_addresses",
    "Customer": "afosto_customers",
    "Order": "afosto_orders",
    "PrintHub": "afosto_print_hubs",
    "Printer": "afosto_printers",
    "AfostoUser": "afosto_users",
    "AfostoPlan": "afosto_plans",
    "AfostoTask": "afosto_tasks",
}
IDENTITY = {"StockLevel": "sku", "OrderLine": "sku", "TenantAfosto": "afostoTenantId"}

# Who may see a record of each protected type at all.
RECORDS: dict[str, Callable[[Caller, Row, Truth], bool]] = {
    **dict.fromkeys([*COMMERCE, *IDENTITY], _commerce),
    "Tenant": lambda c, r, truth: member(c, r["id"]),
    "Device": _device,
    "Till": lambda c, r, truth: c.valid and c.tenant == truth.row("Store", r["store_id"])["tenant_id"],
    "License": lambda c, r, truth: _owners(c, r["user_id"], truth),
    "CustomerSubscription": lambda c, r, truth: _owners(c, r["user_id"], truth),
}


def _colleague(c: Caller, u: Row, truth: Truth) -> bool:
    return itself(c, u["id"]) or member(c, u["tenant_id"])


def _self_or_admin(c: Caller, u: Row, truth: Truth) -> bool:
    return the_user(c, u["id"]) or admin(c, u["tenant_id"])


def _store_member(c: Caller, s: Row, truth: Truth) -> bool:
    return member(c, s["tenant_id"])


# Who may read each private field of a record they see (the parent's row decides).
FIELDS: dict[tuple[str, str], Callable[[Caller, Row, Truth], bool]] = {
    **{
        ("User", name): _colleague
        for name in (
            "login",
            "email",
            "firstName",
            "lastName",
            "userCode",
            "accountType",
            "tenantRole",
            "tenant",
            "defaultStore",
        )
    },
    **{
        ("User", name): _self_or_admin
        for name in ("purchasedProducts", "purchasedApps", "subscriptions", "licenses", "devices")
    },
    ("Device", "deviceCode"): lambda c, d, truth: admin(c, d["tenant_id"]),
    ("Store", "tills"): _store_member,
    ("Store", "devices"): _store_member,
    ("Store", "users"): _store_member,
    ("Review", "reviewerEmail"): lambda c, r, truth: itself(c, r["user_id"]),
    # Afosto edges from facade's types: members of the parent's tenant. A product names its store,
    # not its tenant: its Afosto edges' guard lets every person of a tenant by, and the page they
    # load is held to the record rule with its SKU's tenant as owner (models.OwnedPage), data or none.
    ("Store", "salesChannels"): _store_member,
    ("Store", "stock"): _store_member,
    ("Store", "stockLocation"): _store_member,
    ("Device", "printHub"): lambda c, d, truth: member(c, d["tenant_id"]),
    ("Tenant", "afosto"): lambda c, r, truth: member(c, r["id"]),
    **{("Product", name): _product_afosto for name in PRODUCT_EDGES},
}


def global_id(type_name: str, tenant: str, source: str) -> str:
    return base64.b64encode(f"{type_name}:{tenant}:{source}".encode()).decode()


async def read_truth(engine: Any) -> Truth:
    wanted = {
        "Tenant": (t.tenants, ("id",)),
        "User": (t.users, ("id", "tenant_id")),
        "Store": (t.stores, ("id", "tenant_id")),
        "Till": (t.tills, ("id", "store_id")),
        "Device": (t.devices, ("id", "tenant_id", "owner_id")),
        "License": (t.licenses, ("id", "user_id")),
        "CustomerSubscription": (t.subscriptions, ("id", "user_id")),
        "Review": (t.reviews, ("id", "user_id")),
        "Product": (t.products, ("id", "store_id")),
    }
    truth = Truth()
    async with engine.connect() as conn:
        for type_name, (table, columns) in wanted.items():
            rows = (await conn.execute(select(*(table.c[n] for n in columns)))).mappings()
            truth.rows[type_name] = {str(r["id"]): dict(r) for r in rows}
        # Afosto's rows by global id, each with the facade tenant linked to its Afosto tenant.
        links = {
            r.afosto_tenant_id: r.tenant_id
            for r in await conn.execute(
                select(t.afosto_tenant_links.c.tenant_id, t.afosto_tenant_links.c.afosto_tenant_id)
            )
        }
        truth.rows["TenantAfosto"] = {afosto: {"tenant_id": tenant} for afosto, tenant in links.items()}
        for type_name, name in COMMERCE.items():
            table = t.metadata.tables[name]
            rows = await conn.execute(select(table.c.id, table.c.afosto_tenant_id))
            truth.rows[type_name] = {
                (
                    f"{links[r.afosto_tenant_id]}:{r.id}"  # a Node type's key (shown decodes its id)
                    if type_name in NODE_TYPES
                    else global_id(type_name, links[r.afosto_tenant_id], r.id)
                ): {"tenant_id": links[r.afosto_tenant_id]}
                for r in rows
                if r.afosto_tenant_id in links
            }
        # A stock level's or order line's tenant: its SKU's (SKUs are unique across the seed).
        sku_rows = (await conn.execute(select(t.product_skus))).all()
        skus = {r.sku: {"tenant_id": r.tenant_id} for r in sku_rows}
        truth.rows["StockLevel"] = truth.rows["OrderLine"] = skus
        # A product's (tenant, SKU).
        for r in sku_rows:
            truth.rows["Product"][str(r.product_id)]["sku_ref"] = (r.tenant_id, r.sku)
    return truth


# ---------------------------------------------------------------------------------------------
# The paths, from the schema


def named(type_: Any) -> Any:
    while isinstance(type_, graphql.GraphQLWrappingType):
        type_ = type_.of_type
    return type_


def node_type(type_: graphql.GraphQLObjectType) -> graphql.GraphQLObjectType:
    """The record type a field's value holds: a connection's node type, or the type itself."""
    if "nodes" in type_.fields and "pageInfo" in type_.fields:
        return named(type_.fields["nodes"].type)  # type: ignore[no-any-return]
    return type_


def protected(type_: graphql.GraphQLObjectType) -> bool:
    return type_.name in RECORDS


@dataclass
class Trie:
    """The selections of one root variant: child field -> Trie; `ends` marks where a path ends."""

    children: dict[str, Trie] = field(default_factory=dict)
    ends: bool = False
    step: tuple[str, str] = ("", "")  # the field this trie is the value of: (parent type, name)

    def count(self) -> int:
        return int(self.ends) + sum(child.count() for child in self.children.values())


def grow(type_: graphql.GraphQLObjectType, depth: int, visited: frozenset[str] = frozenset()) -> Trie:
    """Every path below a record of `type_` that ends at a protected record or a private field.
    A path visits each type once: a rule reads the record, never the road, so coming back to a
    type by a longer road reaches nothing the road from its first visit does not."""
    trie = Trie()
    if depth >= DEPTH:
        return trie
    visited = visited | {type_.name}
    for name, field_def in type_.fields.items():
        target = named(field_def.type)
        private = (type_.name, name) in FIELDS
        if isinstance(target, graphql.GraphQLObjectType):
            inner = node_type(target)
            if inner.name in visited:
                continue
            below = grow(inner, depth + 1, visited)
            if private or protected(inner) or below.children:
                below.ends = private or protected(inner)
                below.step = (type_.name, name)
                trie.children[name] = below
        elif private:
            trie.children[name] = Trie(ends=True, step=(type_.name, name))
    return trie


def root_variants(seed: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The arguments each root field is called with: every required one filled from the seed, the
    caller's tenant and another's where an argument names a tenant."""
    return {
        "tenant": [{"tenantUid": ACME}, {"tenantUid": NORDIC}],
        "store": [{"id": seed["acme_store"]}, {"id": seed["nordic_store"]}],
        "storeByUid": [{"uid": seed["acme_store_uid"]}],
        "stores": [{"first": 3}],
        "product": [{"id": seed["alice_product"]}, {"id": seed["nordic_product"]}],
        "products": [{"first": 3}],
        "apps": [{"first": FIRST}],
        "devices": [{"tenantUid": ACME, "first": 3}, {"tenantUid": NORDIC, "first": 3}],
        "searchDevices": [{"tenantUid": ACME, "first": 3}],
        "device": [
            {"tenantUid": ACME, "deviceUid": seed["acme_device"]},
            {"tenantUid": NORDIC, "deviceUid": seed["nordic_device"]},
        ],
        "viewer": [{}],
        "currentDevice": [{}],
        "deviceUsers": [{"first": 3}],
        "appManifest": [{"app": seed["app"], "version": seed["version"], "sessionId": seed["session"]}],
        "afostoTask": [
            {"tenantUid": ACME, "id": seed["acme_task"]},
            {"tenantUid": NORDIC, "id": seed["nordic_task"]},
        ],
    }


def literal(value: Any) -> str:
    return orjson.dumps(value).decode()


def selection(type_: graphql.GraphQLObjectType, trie: Trie, first: int = FIRST) -> str:
    """The selection set of `trie` on `type_`; the lists right below take `first` items."""
    inner = node_type(type_)
    key = IDENTITY.get(inner.name, "id")
    parts = [key] if key in inner.fields else []
    for name, child in trie.children.items():
        target = named(inner.fields[name].type)
        if not isinstance(target, graphql.GraphQLObjectType):
            parts.append(name)
            continue
        args = f"(first: {first})" if "first" in inner.fields[name].args else ""
        parts.append(f"{name}{args} {selection(target, child)}")
    body = "{ " + " ".join(parts) + " }"
    return "{ nodes " + body + " }" if inner is not type_ else body


@dataclass
class Root:
    alias: str
    name: str
    trie: Trie
    text: str


def roots(seed: dict[str, Any]) -> list[Root]:
    variants = root_variants(seed)
    built = []
    for name, field_def in GQL.query_type.fields.items():  # type: ignore[union-attr]
        target = named(field_def.type)
        if not isinstance(target, graphql.GraphQLObjectType):
            continue
        trie = grow(node_type(target), 0)
        trie.ends = protected(node_type(target))
        trie.step = ("Query", name)
        if not trie.count():
            continue
        assert name in variants, f"root field {name} reaches protected records: give it seeded arguments"
        for i, args in enumerate(variants[name]):
            alias = f"{name}_{i}"
            call = f"({', '.join(f'{k}: {literal(v)}' for k, v in args.items())})" if args else ""
            # A root's own record lists in full, so that what it holds is all there (the licensed
            # FLECS devices among a tenant's devices); below, a few items of each list.
            first = FIRST if node_type(target) is not target else WIDE
            built.append(Root(alias, name, trie, f"{alias}: {name}{call} {selection(target, trie, first)}"))
    return built


# ---------------------------------------------------------------------------------------------
# Judging an answer


@dataclass
class Verdicts:
    checked: int = 0  # (caller, record or field) judgements
    shown: Counter[tuple[str, ...]] = field(default_factory=Counter)  # path -> how often shown
    steps: Counter[tuple[str, str]] = field(default_factory=Counter)  # last step -> how often shown
    problems: list[str] = field(default_factory=list)


def judge(
    caller: Caller,
    truth: Truth,
    type_: graphql.GraphQLObjectType,
    value: Any,
    trie: Trie,
    path: tuple[Any, ...],
    schema_path: tuple[str, ...],
    errors: dict[tuple[Any, ...], str],
    out: Verdicts,
) -> None:
    """Judges `value` (of `type_`, at response `path`) and everything selected below it."""
    if value is None:
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            judge(caller, truth, type_, item, trie, (*path, i), schema_path, errors, out)
        return
    inner = node_type(type_)
    if inner is not type_:
        for i, item in enumerate(value["nodes"]):
            judge(caller, truth, inner, item, trie, (*path, "nodes", i), schema_path, errors, out)
        return
    key = value.get(IDENTITY.get(inner.name, "id"))
    if protected(inner):
        out.checked += 1
        if not RECORDS[inner.name](caller, truth.shown(inner.name, key), truth):
            out.problems.append(f"{caller.name} was shown {inner.name} {key} at {'.'.join(map(str, path))}")
    if trie.ends:
        out.shown[schema_path] += 1
        out.steps[trie.step] += 1
    for name, child in trie.children.items():
        here, where = (*path, name), (*schema_path, name)
        rule = FIELDS.get((inner.name, name))
        refused = errors.get(here)
        if rule is not None:
            out.checked += 1
            allowed = rule(caller, truth.shown(inner.name, key), truth)
            if allowed and refused:
                out.problems.append(f"{caller.name} was refused ({refused}) {'.'.join(map(str, here))}")
            if not allowed and (value[name] is not None or not refused):
                out.problems.append(f"{caller.name} read {'.'.join(map(str, here))}: {value[name]!r:.80}")
        target = named(inner.fields[name].type)
        if isinstance(target, graphql.GraphQLObjectType):
            judge(caller, truth, target, value[name], child, here, where, errors, out)
        elif value[name] is not None and not refused:
            out.shown[where] += 1
            out.steps[child.step] += 1


def expected_code(caller: Caller) -> str:
    return "FORBIDDEN" if caller.valid else "UNAUTHENTICATED"


# ---------------------------------------------------------------------------------------------
# The test


@dataclass(repr=False)
class World:
    twins: Twins
    callers: list[tuple[Caller, str | None]]
    truth: Truth
    seed: dict[str, Any]
    # In upstream mode, each caller's X-Afosto-Authorization (their tenant's Afosto token).
    afosto: dict[str, dict[str, str]]


async def afosto_headers(twins: Twins, tenant: str | None) -> dict[str, str]:
    """What a frontend of `tenant` sends to reach its Afosto data in upstream mode (the sandbox's
    token of the linked Afosto tenant); nothing in local mode, where facade judges alone."""
    if mode() != "upstream" or tenant is None:
        return {}
    from support.sandbox import afosto_token

    link = (await twins.api.store.links.afosto_tenants([tenant]))[tenant]
    return {"X-Afosto-Authorization": f"Bearer {afosto_token(twins.api.token_settings, link.afosto_tenant_id)}"}


async def cancel_an_order(twins: Twins, login: str, tenant: str) -> str:
    """Cancels one of the tenant's Afosto orders as `login` (a member): the task it answers."""
    token = await twins.api.login(login)
    headers = await afosto_headers(twins, tenant)
    data = await twins.api.data(
        "query($t: String!) { tenant(tenantUid: $t) { afosto { orders(first: 1) { nodes { id } } } } }",
        {"t": tenant},
        token=token,
        headers=headers,
    )
    order = data["tenant"]["afosto"]["orders"]["nodes"][0]["id"]
    task = await twins.api.data(
        "mutation($o: ID!) { cancelOrder(orderId: $o) { sourceId } }", {"o": order}, token=token, headers=headers
    )
    return str(task["cancelOrder"]["sourceId"])


async def seeded(twins: Twins, truth: Truth, tasks: dict[str, str]) -> dict[str, Any]:
    """Values for the root fields' arguments, from the store."""
    engine = twins.api.store.engine
    async with engine.connect() as conn:
        products = (
            await conn.execute(
                select(t.products.c.id, t.products.c.owner_id, t.stores.c.tenant_id).join(
                    t.stores, t.stores.c.id == t.products.c.store_id
                )
            )
        ).all()
        manifest = (await conn.execute(select(t.app_manifests.c.app, t.app_manifests.c.version))).first()
        alice = (await conn.execute(select(t.users.c.id).where(t.users.c.login == "alice"))).scalar_one()
        session = (
            await conn.execute(select(t.licenses.c.session_id).where(t.licenses.c.session_id.is_not(None)))
        ).first()
    stores = truth.rows["Store"].values()
    devices = truth.rows["Device"].values()
    return {
        "acme_store": str(next(s["id"] for s in stores if s["tenant_id"] == ACME)),
        "nordic_store": str(next(s["id"] for s in stores if s["tenant_id"] == NORDIC)),
        "acme_store_uid": "acme-amsterdam-0001",
        "alice_product": str(next((p.id for p in products if p.owner_id == alice), products[0].id)),
        "nordic_product": str(next(p.id for p in products if p.tenant_id == NORDIC)),
        "acme_device": next(d["id"] for d in devices if d["tenant_id"] == ACME),
        "nordic_device": next(d["id"] for d in devices if d["tenant_id"] == NORDIC),
        "app": manifest.app if manifest else "none",
        "version": manifest.version if manifest else "1.0.0",
        "session": session.session_id if session else "00000000-0000-4000-8000-000000000000",
        "acme_task": tasks[ACME],
        "nordic_task": tasks[NORDIC],
    }


async def sign_in(twins: Twins) -> list[tuple[Caller, str | None]]:
    api = twins.api
    ids = {}
    for login in ("alice", "bob", "carol", "dave"):
        ids[login] = int(
            (await api.data("{ viewer { sourceId } }", token=await api.login(login)))["viewer"]["sourceId"]
        )
    device_id, device_token, access_token = await link_and_sign_in(api)
    secret = api.token_settings.jwt_secret.get_secret_value()
    now = int(time.time())
    claims = {"iss": api.token_settings.jwt_issuer, "sub": "999999", "iat": now, "exp": now + 3600, "kind": "user"}
    gone = jwt.encode({**claims, "tenant": ACME, "roles": ["TENANT.ADMIN"]}, secret, algorithm="HS256")
    return [
        (Caller("anonymous", None), None),
        (Caller("user", "user", ids["bob"], ACME), await api.login("bob")),
        (Caller("tenant admin", "user", ids["alice"], ACME, admin=True), await api.login("alice")),
        (Caller("another tenant's admin", "user", ids["carol"], NORDIC, admin=True), await api.login("carol")),
        (Caller("customer", "user", ids["dave"]), await api.login("dave")),
        (Caller("device token", "device", None, ACME, device_id=device_id), device_token),
        (
            Caller("access token", "access", ids["bob"], ACME, device_id=device_id),
            access_token,
        ),
        (Caller("deleted user", None), gone),
    ]


@pytest.fixture(scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    twins = await Twins.open(tmp_path_factory.mktemp("matrix"), 40, **LIMITS_OFF)
    callers = await sign_in(twins)
    # An Afosto task for each tenant (the seed has none): what afostoTask and node read.
    tasks = {ACME: await cancel_an_order(twins, "alice", ACME), NORDIC: await cancel_an_order(twins, "carol", NORDIC)}
    truth = await read_truth(twins.api.store.engine)
    afosto = {caller.name: await afosto_headers(twins, caller.tenant) for caller, _ in callers}
    yield World(twins, callers, truth, await seeded(twins, truth, tasks), afosto)
    await twins.aclose()


def test_the_rules_restated_here_are_the_rules_declared_in_the_schema() -> None:
    """RECORDS and FIELDS name exactly the types with a record rule and the guarded fields."""
    ruled, guarded = set(), set()
    for type_ in GQL.type_map.values():
        definition = (type_.extensions or {}).get("strawberry-definition") if hasattr(type_, "fields") else None
        if getattr(getattr(definition, "origin", None), RULE, None) is not None:
            ruled.add(type_.name)
        if isinstance(type_, graphql.GraphQLObjectType) and type_ not in (GQL.query_type, GQL.mutation_type):
            for name, field_def in type_.fields.items():
                metadata = getattr((field_def.extensions or {}).get("strawberry-definition"), "metadata", {}) or {}
                spec = metadata.get(EDGE)
                if GUARD in metadata or (spec is not None and spec.guard is not None):
                    guarded.add((type_.name, name))

    assert ruled == set(RECORDS)
    assert guarded == set(FIELDS)


async def test_every_path_to_a_protected_record_answers_by_its_rules_for_every_caller(world: World) -> None:
    twins = world.twins
    built = roots(world.seed)
    paths = sum(root.trie.count() for root in built)
    out = Verdicts()
    codes: Counter[str] = Counter()
    for caller, token in world.callers:
        for root in built:
            query = "{ " + root.text + " }"
            headers = world.afosto.get(caller.name)
            bodies = [
                await twins.post(client, query, None, token=token, headers=headers)
                for client in (twins.compiled, twins.standard)
            ]
            assert bodies[0].content == bodies[1].content, (caller.name, root.alias)
            body = bodies[0].json()
            errors = {}
            for error in body.get("errors", []):
                code = error["extensions"]["code"]
                codes[code] += 1
                if code not in (expected_code(caller), "NOT_FOUND") and not (code == "FORBIDDEN" and caller.valid):
                    out.problems.append(f"{caller.name}: {code} at {error.get('path')}: {error['message']}")
                errors[tuple(error.get("path") or ())] = code
            target = named(GQL.query_type.fields[root.name].type)  # type: ignore[union-attr]
            judge(
                caller,
                world.truth,
                target,
                body["data"][root.alias],
                root.trie,
                (root.alias,),
                (root.name,),
                errors,
                out,
            )

    distinct = set(all_paths(built))
    shown = {p for p in distinct if out.shown[p]}
    # Every last step (a root or an edge into a protected type, a private field) is shown to some
    # caller on some path: none is refused to everyone (or only ever empty in the seed).
    unexercised = sorted(set(all_steps(built)) - set(out.steps))
    print(  # noqa: T201 - the figures the issue's closing note asks for
        f"\npermission matrix: {paths} paths ({len(set(all_paths(built)))} distinct) from {len(built)} root calls, "
        f"{len(world.callers)} callers, {out.checked} judgements; refusals {dict(codes)}; "
        f"{len(shown)} distinct paths shown to some caller, {len(set(all_steps(built)))} last steps"
    )
    assert not out.problems, "\n".join(out.problems[:400])
    assert not unexercised, unexercised


def all_steps(built: list[Root]) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []

    def walk(trie: Trie) -> None:
        if trie.ends:
            found.append(trie.step)
        for child in trie.children.values():
            walk(child)

    for root in built:
        walk(root.trie)
    return found


def all_paths(built: list[Root]) -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []

    def walk(trie: Trie, path: tuple[str, ...]) -> None:
        if trie.ends:
            found.append(path)
        for name, child in trie.children.items():
            walk(child, (*path, name))

    for root in built:
        walk(root.trie, (root.name,))
    return found
