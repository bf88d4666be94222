"""The compiled executor answers exactly as Strawberry's standard execution does.

Random valid queries over the real schema (from hypothesis-graphql, and from a builder of nested
selections over the connection fields, with variables, @skip/@include, fragments, aliases and
documents of two operations), sent by random callers (anonymous, a tenant admin, a cashier, a
customer, a linked device, a user signed in on it, a bad token) over random data: the seeded store
behind a chaos backend (support/chaos.py) that makes reads fail, come back empty, lose records or
hold nulls where the schema promises values. Each request goes to an app with compiled execution
and to one without, over the same backend, and the two bodies must be the same bytes: data,
errors (in response order on both paths), messages, paths, extensions and key order. The one
difference tolerated is `known_difference`'s.

FACADE_DIFFERENTIAL_EXAMPLES sets how many examples run: the default fits CI, which runs this file
in each test mode; `FACADE_DIFFERENTIAL_EXAMPLES=5000 pytest -s tests/graph/test_differential.py`
searches harder and prints what the examples exercised.
"""

from __future__ import annotations

import base64
import dataclasses
import os
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import graphql
import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import nodes
from hypothesis_graphql import strategies as gql

from conftest import PASSWORD, Api, mode, store_kind
from facade.graph.schema import build_schema
from facade.models import encode_cursor
from support.chaos import CALM, ERRORS, KINDS, READS, Chaos, Fault, Twins


def gid(type_name: str, key: object) -> str:
    return base64.b64encode(f"{type_name}:{key}".encode()).decode()


EXAMPLES = int(os.environ.get("FACADE_DIFFERENTIAL_EXAMPLES", "1000"))
SEED_PRODUCTS = 40
SDL = str(build_schema())
SCHEMA = graphql.build_schema(SDL)

TENANTS = ["acme-retail", "nordic-bakeries", "flecs-industrial", "no-such-tenant"]
STORE_UIDS = ["acme-amsterdam-0001", "nordic-stockholm-0002", "flecs-munchen-0003", "no-such-store"]
# Draws favour what the seed has (a repeat weighs a choice up, and Hypothesis draws the first of a
# list most): a query that fails at its root only ever exercises the fallback.
IDS = ["1", "1", "2", "2", "3", "3", "5", "25", "40", "999", "x"]
# Global ids (graph/nodes.py) of seeded objects of every Node type, of missing ones, and malformed.
GLOBAL_IDS = [
    gid("Store", 1),
    gid("Product", 2),
    gid("Tenant", "acme-retail"),
    gid("User", 1),
    gid("Till", "acme-amsterdam-0001-till-1"),
    gid("License", 1),
    gid("CustomerSubscription", 1),
    gid("Review", 1),
    gid("AppManifest", "tech.flecs.mqtt-bridge-1:1.0.0:3.0.0"),
    gid("Product", 1),
    gid("AppManifest", "com.influxdata.influxdb-13:1.1.0:2.0.0"),
    gid("Tenant", "nordic-bakeries"),
    gid("Store", 999),
    gid("Device", "no-such-device"),
    gid("Nope", 1),
    gid("Store", "x"),
]
IDS += GLOBAL_IDS
CURSORS = [encode_cursor(0)] * 3 + [encode_cursor(3)] * 2 + ["bm90IGEgY3Vyc29y"]
FIRSTS = [3, 2, 5, 1, 3, 2, 5, 1, 5, 0, -1]
STRINGS = [*TENANTS, *STORE_UIDS, "FULL", "tech.flecs.mqtt-bridge-1", "1.0.0", *CURSORS, ""]
# Afosto arguments: the seed's price group names and order numbers, and some that are not.
PRICE_GROUPS = ["retail", "wholesale", "retail", "no-such-group", ""]
ORDER_NUMBERS = ["100001", "100002", "no-such-order"]
DATES = ["2026-01-01T00:00:00+00:00", "2030-06-01T12:00:00Z", "1999-01-01T00:00:00Z"]
CALLERS = ["alice", "anonymous", "bob", "dave", "alice", "anonymous", "bob", "dave", "alice", "device", "access"]
CALLERS += ["bad-token"]
HOME = {"alice": "acme-retail", "bob": "acme-retail", "device": "acme-retail", "access": "acme-retail"}
# Root fields weighed up for each caller (on top of every root once): the lists and what the
# caller may read, which lead to the deep batched edges.
PUBLIC = ["products"] * 4 + ["stores"] * 3 + ["apps", "product", "store", "node", "nodes"]
# A tenant's members reach its Afosto side (Tenant.afosto, Store.salesChannels/stock, Product.prices).
FAVOURITES = {
    "alice": [*PUBLIC, *["viewer"] * 5, *["tenant"] * 4, "devices", "searchDevices", "afostoTask"],
    "bob": [*PUBLIC, *["viewer"] * 5, *["tenant"] * 3],
    "dave": [*PUBLIC, *["viewer"] * 5],
    "device": [*PUBLIC, *["deviceUsers"] * 3],
    "access": [*PUBLIC, *["currentDevice"] * 3],
}


# ---------------------------------------------------------------------------------------------
# The apps under test


@dataclass(repr=False)  # Hypothesis prints the arguments of each example it reports
class World:
    """The twin apps, a token per caller, and what the examples saw."""

    twins: Twins
    tokens: dict[str, str | None]
    outcomes: Counter[str] = field(default_factory=Counter)
    # Tolerated differences (check_same), by kind: [(caller, query, variables)]
    known: defaultdict[str, list[tuple[str, str, Any]]] = field(default_factory=lambda: defaultdict(list))
    seconds: float = 0.0


async def link_device(api: Api) -> tuple[str, str]:
    """A device token (acme-retail's seeded device, linked with bob's user code) and the access
    token of bob signed in on it."""
    alice = await api.login("alice")
    data = await api.data(
        'query { searchDevices(tenantUid: "acme-retail", first: 1000, filter: {status: READY_TO_LINK}) '
        "{ nodes { deviceCode } } }",
        token=alice,
    )
    code = next(n["deviceCode"] for n in data["searchDevices"]["nodes"] if n["deviceCode"])
    linked = await api.data(
        'mutation($c: String!, $p: String!) { linkDevice(deviceCode: $c, appId: "flow-retail-client", '
        'userCode: "1002", password: $p) { deviceToken } }',
        {"c": code, "p": PASSWORD},
    )
    device = linked["linkDevice"]["deviceToken"]
    session = await api.data(
        'mutation($p: String!) { deviceLogin(userCode: "1002", password: $p) { accessToken } }',
        {"p": PASSWORD},
        token=device,
    )
    return device, session["deviceLogin"]["accessToken"]


@pytest.fixture(scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    twins = await Twins.open(tmp_path_factory.mktemp("differential"), SEED_PRODUCTS)
    api = twins.api
    device, access = await link_device(api)
    tokens = {
        "anonymous": None,
        "alice": await api.login("alice"),
        "bob": await api.login("bob"),
        "dave": await api.login("dave"),
        "device": device,
        "access": access,
        "bad-token": "not-a-token",
    }
    yield World(twins, tokens)
    await twins.aclose()


# ---------------------------------------------------------------------------------------------
# Queries: a builder of nested selections over the schema


def one_in(draw: st.DrawFn, n: int) -> bool:
    """True about once in `n` draws. Never for the simplest draw (0), which Hypothesis makes far
    more often than its share: the plain choice is the common one."""
    return draw(st.integers(0, n - 1)) == n - 1


def named(type_: Any) -> Any:
    while isinstance(type_, graphql.GraphQLWrappingType):
        type_ = type_.of_type
    return type_


@dataclass
class Document:
    """What a built query declares besides its selections."""

    home: str | None = None  # the caller's tenant
    # name -> (type, value, strategy of other values)
    variables: dict[str, tuple[str, Any, st.SearchStrategy[Any]]] = field(default_factory=dict)
    fragments: list[str] = field(default_factory=list)
    node: bool = False  # drawing the arguments of `node`/`nodes`: global ids

    def variable(self, type_: str, value: Any, others: st.SearchStrategy[Any]) -> str:
        name = f"v{len(self.variables)}"
        self.variables[name] = (type_, value, others)
        return f"${name}"

    def other_values(self) -> st.SearchStrategy[dict[str, Any]]:
        """Another set of values for the variables (a nullable one may be left out)."""
        required = {n: o for n, (t, _, o) in self.variables.items() if t.endswith("!")}
        optional = {n: o for n, (t, _, o) in self.variables.items() if not t.endswith("!")}
        return st.fixed_dictionaries(required, optional=optional)


def literal(value: Any) -> str:
    """`value` as a GraphQL literal (enums are passed as graphql.EnumValueNode)."""
    if isinstance(value, graphql.EnumValueNode):
        return value.value
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    return "null" if value is None else orjson.dumps(value).decode()


def json_value(value: Any) -> Any:
    """`value` as a JSON variable value."""
    if isinstance(value, graphql.EnumValueNode):
        return value.value
    if isinstance(value, dict):
        return {k: json_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_value(v) for v in value]
    return value


def values(doc: Document, name: str, type_: Any) -> st.SearchStrategy[Any]:
    """Realistic values for an argument (or input field) `name` of `type_`: mostly ones the seed
    knows (the caller's own tenant above all), some it does not, some invalid."""
    inner = named(type_)
    required = isinstance(type_, graphql.GraphQLNonNull)
    if isinstance(type_, graphql.GraphQLNonNull):
        type_ = type_.of_type
    if isinstance(type_, graphql.GraphQLList):
        return st.lists(values(doc, name, type_.of_type), max_size=5 if name == "ids" else 2)
    if isinstance(inner, graphql.GraphQLEnumType):
        choice: st.SearchStrategy[Any] = st.sampled_from(sorted(inner.values)).map(
            lambda v: graphql.EnumValueNode(value=v)
        )
    elif isinstance(inner, graphql.GraphQLInputObjectType):
        choice = st.fixed_dictionaries({}, optional={k: values(doc, k, f.type) for k, f in inner.fields.items()})
    elif inner.name == "Int":
        choice = st.sampled_from([1, 2, 3, 99] if name == "storeId" else FIRSTS)
    elif inner.name == "Boolean":
        choice = st.booleans()
    elif inner.name == "JSON":
        choice = st.sampled_from([{}, {"app": "tech.flecs.x", "version": "1"}])
    elif inner.name == "DateTime":
        choice = st.sampled_from(DATES)
    elif name == "priceGroup":
        choice = st.sampled_from(PRICE_GROUPS)
    elif name == "number":
        choice = st.sampled_from(ORDER_NUMBERS)
    elif name == "tenantUid":
        choice = st.sampled_from(TENANTS + [doc.home] * 4 if doc.home else TENANTS)
    elif name in ("uid", "storeUid"):
        choice = st.sampled_from(STORE_UIDS)
    elif name == "after":
        choice = st.sampled_from(CURSORS)
    elif name in ("id", "ids") and doc.node:
        choice = st.sampled_from(GLOBAL_IDS)
    elif inner.name == "ID":
        choice = st.sampled_from(IDS)
    else:
        choice = st.sampled_from(STRINGS)
    return choice if required else st.none() | choice


def is_leaf(field: Any) -> bool:
    return graphql.is_leaf_type(named(field.type))


def optional_args(field: Any) -> bool:
    return not any(
        isinstance(a.type, graphql.GraphQLNonNull) and a.default_value is graphql.Undefined for a in field.args.values()
    )


@st.composite
def arguments(draw: st.DrawFn, doc: Document, field: Any) -> str:
    """Some of `field`'s arguments (all required ones), as literals or variables."""
    parts = []
    for name, argument in field.args.items():
        required = isinstance(argument.type, graphql.GraphQLNonNull)
        if not required and not one_in(draw, 3):
            continue
        value = draw(values(doc, name, argument.type))
        if one_in(draw, 4):
            others = values(doc, name, argument.type).map(json_value)
            parts.append(f"{name}: {doc.variable(str(argument.type), json_value(value), others)}")
        else:
            parts.append(f"{name}: {literal(value)}")
    return f"({', '.join(parts)})" if parts else ""


@st.composite
def directives(draw: st.DrawFn, doc: Document) -> str:
    if not one_in(draw, 5):
        return ""
    name = draw(st.sampled_from(["skip", "include"]))
    if one_in(draw, 2):
        return f" @{name}(if: {doc.variable('Boolean!', draw(st.booleans()), st.booleans())})"
    return f" @{name}(if: {literal(draw(st.booleans()))})"


MAX_DEPTH = 6


@st.composite
def selection_set(draw: st.DrawFn, doc: Document, type_: Any, depth: int) -> str:
    """A selection set on object type `type_`: some leaves, some edges followed (fewer as it goes
    down), the odd alias, directive, __typename, inline or named fragment."""
    fields = type_.fields
    leaves = sorted(n for n, f in fields.items() if is_leaf(f) and optional_args(f))
    objects = sorted(n for n, f in fields.items() if not is_leaf(f) and optional_args(f))
    connection = type_.name.endswith("Connection")
    picked = draw(st.lists(st.sampled_from(leaves), max_size=3, unique=True)) if leaves else []
    budget = 0 if depth >= MAX_DEPTH else (3 if depth < 2 or connection else 2)
    if connection:
        picked += draw(
            st.lists(st.sampled_from(["nodes", "edges", "nodes", "pageInfo"]), min_size=1, max_size=2, unique=True)
        )
    elif objects and budget:
        picked += draw(st.lists(st.sampled_from(objects), max_size=budget, unique=True))
    if not picked:
        picked = [leaves[0]] if leaves else [objects[0]]
    items = []
    for name in picked:
        field_def = fields[name]
        alias = f"{name}{len(doc.variables)}x: " if one_in(draw, 8) else ""
        text = f"{alias}{name}{draw(arguments(doc, field_def))}{draw(directives(doc))}"
        if not is_leaf(field_def):
            text += " " + draw(selection_set(doc, named(field_def.type), depth + 1))
        items.append(text)
    if isinstance(type_, graphql.GraphQLInterfaceType):
        # `node`, `nodes`: the object types behind the interface, each in its inline fragment.
        possible = sorted(t.name for t in SCHEMA.get_possible_types(type_))
        for each in draw(st.lists(st.sampled_from(possible), min_size=1, max_size=3, unique=True)):
            items.append(f"... on {each} {draw(selection_set(doc, SCHEMA.type_map[each], depth + 1))}")
        return "{ " + " ".join(items) + " }"
    if one_in(draw, 6):
        items.append("__typename")
    shape = draw(st.integers(0, 7))
    if shape == 6 and len(items) > 1:  # part of the selection in an inline fragment
        items = [items[0], f"... on {type_.name}{draw(directives(doc))} {{ {' '.join(items[1:])} }}"]
    elif shape == 7:  # all of it in a named fragment
        name = f"F{len(doc.fragments)}"
        doc.fragments.append(f"fragment {name} on {type_.name} {{ {' '.join(items)} }}")
        items = [f"...{name}"]
    return "{ " + " ".join(items) + " }"


# The generated Afosto namespace is left out. It reads no store (local mode answers it from the
# sandbox's emulation in process), the compiler declines it ("AfostoCatQueries.groups has a
# resolver the compiler does not handle": both apps run the standard path, nothing to compare), and
# tests/graph/test_afosto.py calls each of its fields in both modes. Drawn here, it still leaves
# the warning this exclusion was made for: with the default 1000 examples (not with 200),
# `coroutine 'GraphQLCoreConverter.from_resolver.<locals>._async_resolver' was never awaited`,
# about 40 times: Strawberry's wrapper of a generated Afosto resolver, created by graphql-core
# and dropped unawaited. graphql-core 3.3.2 settles a failed selection's sibling awaitables
# (execute_fields), so the drop is elsewhere; not found within the afosto-local branch's time.
ROOTS = sorted(name for name, f in SCHEMA.query_type.fields.items() if not is_leaf(f) and name != "afosto")


@dataclass(frozen=True)
class Request:
    """What one example sends, as `caller`: the document once per set of variables."""

    caller: str
    query: str
    variables: tuple[dict[str, Any] | None, ...] = (None,)
    operation_name: str | None = None


@st.composite
def built_requests(draw: st.DrawFn, caller: str) -> Request:
    doc = Document(home=HOME.get(caller))
    choices = ROOTS + FAVOURITES.get(caller, PUBLIC) * 2
    roots = draw(st.lists(st.sampled_from(choices), min_size=1, max_size=2 if one_in(draw, 4) else 1, unique=True))
    parts = []
    for name in roots:
        field_def = SCHEMA.query_type.fields[name]
        doc.node = name in ("node", "nodes")
        text = f"{name}{draw(arguments(doc, field_def))}{draw(directives(doc))}"
        doc.node = False
        parts.append(text + " " + draw(selection_set(doc, named(field_def.type), 1)))
    if one_in(draw, 20):
        parts.append("__typename")  # the compiler declines these: both apps run the standard path
    declared = ", ".join(f"${n}: {t}" for n, (t, _, _) in doc.variables.items())
    query = f"query Q{f'({declared})' if declared else ''} {{ {' '.join(parts)} }}"
    operation_name = None
    if one_in(draw, 8):  # a document of several operations, one of them chosen by name
        query += "\nquery Other { stores(first: 1) { totalCount } }"
        operation_name = "Q"
    query = "\n".join([query, *doc.fragments])
    variables = [{n: v for n, (_, v, _) in doc.variables.items()}]
    if doc.variables and one_in(draw, 2):  # the same document again: a cached plan, other values
        variables.append(draw(doc.other_values()))
    return Request(caller, query, tuple(variables), operation_name)


def scalar_nodes() -> dict[str, st.SearchStrategy[graphql.ValueNode]]:
    """Argument values for hypothesis-graphql: the seed's ids and names rather than random text."""
    return {
        "Int": st.sampled_from([0, 1, 2, 3, 5, -1, 2000]).map(nodes.Int),
        "ID": st.sampled_from(IDS).map(nodes.String),
        "String": st.sampled_from(STRINGS).map(nodes.String),
        "JSON": st.just(graphql.parse_value('{app: "tech.flecs.x", version: "1"}')),
    }


def without_root_typename(document: graphql.DocumentNode) -> str:
    """hypothesis-graphql often asks for the root's __typename, which the compiler declines: left
    out (where something else is selected) so that its queries reach the compiled path too."""
    operation = document.definitions[0]
    assert isinstance(operation, graphql.OperationDefinitionNode)
    kept = [
        s
        for s in operation.selection_set.selections
        if getattr(s, "name", None) is None or s.name.value != "__typename"
    ]
    if kept:
        selections = dataclasses.replace(operation.selection_set, selections=tuple(kept))
        document = dataclasses.replace(
            document, definitions=(dataclasses.replace(operation, selection_set=selections),)
        )
    return graphql.print_ast(document)


GENERATED = gql.queries(
    SDL,
    fields=[name for name in SCHEMA.query_type.fields if name != "afosto"],
    custom_scalars=scalar_nodes(),
    print_ast=without_root_typename,
)


@st.composite
def requests(draw: st.DrawFn) -> Request:
    """A quarter from hypothesis-graphql, the rest built."""
    caller = draw(st.sampled_from(CALLERS))
    if one_in(draw, 4):
        return Request(caller, draw(GENERATED))
    return draw(built_requests(caller))


# ---------------------------------------------------------------------------------------------
# Data: the seeded store, misbehaving as drawn

# The reads behind the lists and edges most queries reach come first (Hypothesis draws the first
# choices most), then every read of every domain.
HOT = [
    ("stores", "get_many"),
    ("links", "afosto_tenants"),
    ("commerce", "channels"),
    ("commerce", "prices"),
    ("commerce", "stock_by_location"),
    ("users", "get_many"),
    ("reviews", "page_by_product"),
    ("tenants", "get_many"),
    ("products", "page_by_store"),
    ("apps", "manifests_by_product"),
    ("products", "page_all"),
    ("stores", "page_all"),
]
METHODS = HOT + sorted((domain, method) for domain, methods in READS.items() for method in methods)
faults = st.builds(
    lambda method, kind, error: Fault(*method, kind, error),
    st.sampled_from(METHODS),
    st.sampled_from(sorted(KINDS, key=lambda k: k not in ("null", "drop"))),
    st.sampled_from(ERRORS),
)


@st.composite
def chaoses(draw: st.DrawFn) -> Chaos:
    """Some examples on the store as it is; the others with reads misbehaving: about one in
    `spread` of all reads, and up to two named ones."""
    if one_in(draw, 4):
        return CALM
    return Chaos(
        faults=tuple(draw(st.lists(faults, max_size=2))),
        seed=draw(st.integers(0, 2**16)),
        rate=draw(st.sampled_from([3, 2, 5])),
        spread=draw(st.sampled_from([4, 3, 6, 0])),
        # Spoilt records weighed up: a null only shows where the query selects that field.
        kinds=("null", "null", *KINDS),
    )


# ---------------------------------------------------------------------------------------------
# The check


def difference(a: Any, b: Any, path: str = "") -> str:
    """Where two JSON values first differ (key order included)."""
    if isinstance(a, dict) and isinstance(b, dict):
        if list(a) != list(b):
            return f"{path or '.'}: keys {list(a)} != {list(b)}"
        for key in a:
            found = difference(a[key], b[key], f"{path}.{key}")
            if found:
                return found
        return ""
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{path}: {len(a)} items != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            found = difference(x, y, f"{path}[{i}]")
            if found:
                return found
        return ""
    return "" if a == b and type(a) is type(b) else f"{path}: {a!r} != {b!r}"


def errors_sorted(body: dict[str, Any]) -> dict[str, Any]:
    """The body with its errors in a canonical order (everything else as it was)."""
    if not body.get("errors"):
        return body
    return {**body, "errors": sorted(body["errors"], key=orjson.dumps)}


def known_difference(ours: dict[str, Any], theirs: dict[str, Any]) -> str | None:
    """Which of the tolerated differences between two bodies this is, if any.

    - "errors past a null root": a non-null root field failed, so data is null, and the replay
      also lists errors of root fields that the standard executor, which stops at the first such
      failure, had not seen fail by then (pinned in test_compiled.py too).
    """
    if ours.get("data", ...) is None and theirs.get("data", ...) is None:
        extra = Counter(orjson.dumps(e) for e in ours.get("errors", []))
        extra.subtract(orjson.dumps(e) for e in theirs.get("errors", []))
        if all(n >= 0 for n in extra.values()):
            return "errors past a null root"
    return None


async def check_same(world: World, request: Request, variables: Any, chaos: Chaos) -> str:
    """Sends the request to both apps and checks that the bodies are the same bytes (or differ only
    as `known_difference` tolerates: counted in `world.known`). Returns what the compiled
    executor did with the request."""
    twins = world.twins
    twins.backend.chaos = chaos
    caller, query = request.caller, request.query
    sent = {"token": world.tokens[caller], "operation_name": request.operation_name}
    before = dict(twins.executor.counts)
    started = time.perf_counter()
    compiled = await twins.post(twins.compiled, query, variables, **sent)
    standard = await twins.post(twins.standard, query, variables, **sent)
    world.seconds += time.perf_counter() - started
    twins.backend.chaos = CALM
    # Neither path ran a request over a limit (a list of manifests, 1 MB each at worst, can be).
    outcome = next((k for k, v in twins.executor.counts.items() if v != before[k]), "refused")
    assert compiled.status_code == standard.status_code
    if compiled.content == standard.content:
        return outcome
    ours, theirs = compiled.json(), standard.json()
    known = known_difference(ours, theirs)
    assert known is not None, (
        f"{outcome} response differs at {difference(errors_sorted(ours), errors_sorted(theirs))}\n"
        f"caller: {caller}\nchaos: {chaos}\nvariables: {variables}\nquery:\n{query}\n"
        f"compiled: {orjson.dumps(ours)[:3000]!r}\nstandard: {orjson.dumps(theirs)[:3000]!r}"
    )
    world.known[known].append((caller, query, variables))
    return outcome


# The Afosto reads the examples must reach (test_differential_examples_mostly_ran_compiled), each by
# a query of alice's that reaches it whatever the draws: run first as explicit examples, on the calm
# store. Left to the draws, `stock_by_location` was reached by chance, and a change to the schema
# (a type more implementing Node) changed the draws enough to miss it.
REACHING = {
    "commerce.channels": 'query { store(id: "1") { salesChannels(first: 2) { nodes { name } } } }',
    "commerce.price_groups": 'query { tenant(tenantUid: "acme-retail") { afosto { priceGroups(first: 2) '
    "{ nodes { name } } } } }",
    "commerce.stock_by_location": 'query { store(id: "1") { stock(first: 2) { nodes { sku available } } '
    "stockLocation { stock(first: 1) { totalCount } } } }",
    "commerce.stock_by_sku": 'query { product(id: "1") { stock(first: 2) { nodes { sku available } } } }',
}


def reaching_examples(test: Any) -> Any:
    for query in REACHING.values():
        test = example(request=Request("alice", query), chaos=CALM)(test)
    return test


# A failing example is printed whole, however long its query.
@pytest.mark.filterwarnings("ignore:Generating overly large repr")
@reaching_examples
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
@given(request=requests(), chaos=chaoses())
async def test_compiled_and_standard_execution_answer_the_same(world: World, request: Request, chaos: Chaos) -> None:
    for variables in request.variables:
        outcome = await check_same(world, request, variables, chaos)
        world.outcomes[outcome] += 1
        world.outcomes["requests"] += 1
    world.outcomes["examples"] += 1


async def test_differential_examples_mostly_ran_compiled(world: World) -> None:
    """The examples above exercised the compiled path, not only its fallbacks."""
    seen = world.outcomes
    if not seen["examples"]:
        pytest.skip("the differential test did not run in this session")
    print(  # noqa: T201 - the figures a reader of `pytest -s` wants to see
        f"\ndifferential ({mode()} mode, {store_kind()}): {seen['examples']} examples, {seen['requests']} requests "
        f"in {world.seconds:.1f}s: "
        f"{seen['compiled']} compiled, {seen['replayed']} replayed, {seen['declined']} declined, "
        f"{seen['refused']} refused; "
        f"backend calls misbehaving: {dict(world.twins.backend.faulted)}; "
        f"tolerated differences: { {k: len(v) for k, v in world.known.items()} }"
    )
    for kind, examples in world.known.items():
        caller, query, variables = min(examples, key=lambda e: len(e[1]))
        print(f"shortest with {kind} (caller {caller}, variables {variables}):\n{query}")  # noqa: T201
    # The examples reached Afosto's data through the new edges (Store, Product, Tenant, Order...).
    calls = world.twins.backend.calls
    reached = {name for name, n in calls.items() if n and name.startswith("commerce.")}
    # (The callers send no Afosto token: in upstream mode Afosto refuses them, and what would
    # follow a tenant's price groups, its prices, is not asked for.)
    assert set(REACHING) <= reached, sorted(reached)
    assert seen["compiled"] >= 0.25 * seen["requests"], seen
    assert seen["replayed"] >= 0.05 * seen["requests"], seen
