"""Upstream mode answers what local mode answers.

One seeded store is served twice: by facade in local mode, and by facade in upstream mode, whose
FLECS and Flow Retail clients reach the sandbox over loopback HTTP (the sandbox serving that same
store, so both modes read the same data). Every query below is sent to both, by the same kind of
caller, and the two responses must be equal: data, and each error's path and code.

The queries are the playground's examples, a list of representative ones (every root field), and,
derived from the schema, every sortable connection of every type reached from an anchor, with each
of its sort keys in both directions, on a first page and on a later page that straddles two
upstream pages (`after`), with `totalCount`, `pageInfo` and every scalar field of the nodes. A new
connection or sort key is covered without touching this file.

The differences that are by design are listed in `BY_DESIGN`, each with its reason; nothing else
may differ.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql import (
    FieldNode,
    GraphQLEnumType,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    NameNode,
    SelectionSetNode,
    Visitor,
    get_named_type,
    parse,
    print_ast,
    visit,
)

from conftest import Api, make_settings, mode, open_api, source_id
from facade.app import create_app
from facade.auth import TokenKind, TokenService
from facade.graph.schema import get_schema
from facade.models import encode_cursor

pytestmark = pytest.mark.skipif(
    mode() == "upstream", reason="compares both modes itself: the local pass already ran it"
)

PLAYGROUND = Path(__file__).resolve().parents[2] / "playground"
PRODUCTS = 120
TENANT = "acme-retail"
# Every request carries an Afosto token for the Afosto side of acme-retail, as its frontend would:
# the sandbox reads any text as its first seeded Afosto tenant's, acme-retail's (local mode needs
# none).
AFOSTO = {"X-Afosto-Authorization": "Bearer parity"}

# Fields whose values differ by design, by (type, field), with the reason. Only these are left out
# of the comparison (every object in both responses carries its __typename for this).
BY_DESIGN: dict[tuple[str, str], str] = {
    ("Product", "owner"): "the FLECS Console contract's product has no owner (vendor): null in upstream mode",
    ("Product", "createdAt"): "the FLECS Console contract's product has no creation time: 1970-01-01 (unknown) "
    "in upstream mode unless the API sends WooCommerce's date_created",
    (
        "CustomerSubscription",
        "createdAt",
    ): "the FLECS Console contract's order has no creation time: 1970-01-01 (unknown) "
    "in upstream mode unless the API sends date_created",
}
# Orders upstream mode refuses (BAD_USER_INPUT) where local mode answers, by connection and sort key.
_NO_PRODUCT_TIME = "FLECS products carry no creation time to sort by (see BY_DESIGN)"
REFUSED_SORTS: dict[tuple[str, str], str] = {
    **{
        (connection, "CREATED_AT"): _NO_PRODUCT_TIME
        for connection in (
            "Query.products",
            "Query.apps",
            "Store.products",
            "Store.apps",
            "User.purchasedProducts",
            "User.purchasedApps",
        )
    },
    ("User.subscriptions", "CREATED_AT"): "FLECS orders carry no creation time to sort by (see BY_DESIGN)",
}


@dataclass
class Pair:
    local: Api
    upstream: Api
    tokens: dict[str, dict[str, str]]  # mode -> caller -> token

    async def both(
        self,
        query: str,
        caller: str | None,
        variables: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> list[Any]:
        answers = []
        for which, api in (("local", self.local), ("upstream", self.upstream)):
            token = self.tokens[which][caller] if caller else None
            answers.append(await api.post(query, variables, token=token, headers=headers or AFOSTO))
        return answers


@pytest.fixture(scope="module")
async def pair(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Pair]:
    settings = make_settings(Path(tmp_path_factory.mktemp("parity")))
    upstream, _ = await open_api(settings, products=PRODUCTS, upstream=True)
    # Local mode over the very store the sandbox serves (and upstream mode falls back to).
    local_app = create_app(settings, backend=upstream.store.local)
    local = Api(
        client=httpx.AsyncClient(transport=httpx.ASGITransport(app=local_app), base_url="http://facade.test"),
        store=upstream.store.local,
        settings=settings,
    )
    tokens: dict[str, dict[str, str]] = {}
    for which, api in (("local", local), ("upstream", upstream)):
        tokens[which] = {user: await api.login(user) for user in ("alice", "bob", "dave")}
        tokens[which].update(await device_tokens(api, tokens[which]["alice"]))
    yield Pair(local, upstream, tokens)
    await local.client.aclose()
    await upstream.client.aclose()
    await upstream.store.aclose()


async def device_tokens(api: Api, alice: str) -> dict[str, str]:
    """A device token and an access token (bob on it) for one of acme-retail's active devices,
    issued as linkDevice and deviceLogin would (which would write)."""
    data = await api.data(
        '{ searchDevices(tenantUid: "acme-retail", filter: {status: ACTIVE}, first: 1) { nodes { id } } }', token=alice
    )
    device = source_id(data["searchDevices"]["nodes"][0]["id"])
    bob = (await api.data("{ viewer { sourceId } }", token=await api.login("bob")))["viewer"]["sourceId"]
    issue = TokenService(api.token_settings).issue
    return {
        "device": issue(TokenKind.DEVICE, tenant_id=TENANT, device_id=device).token,
        "access": issue(TokenKind.ACCESS, user_id=int(bob), tenant_id=TENANT, device_id=device).token,
    }


# ---------------------------------------------------------------------------------------------
# The queries


@dataclass(frozen=True)
class Case:
    name: str
    query: str
    caller: str | None = None
    variables: dict[str, Any] | None = None
    refused: frozenset[str] = frozenset()  # response paths upstream mode refuses by design
    refusal: str = "BAD_USER_INPUT"  # and the code it refuses them with
    headers: dict[str, str] | None = None  # an example's own (its Afosto token)


def playground() -> Iterator[Case]:
    for document in sorted(PLAYGROUND.glob("*.graphql")):
        spec = json.loads(document.with_suffix(".json").read_text())
        if document.read_text().lstrip("# \n").startswith("mutation") or "mutation " in document.read_text():
            continue  # signing in is compared below, without the token itself
        yield Case(
            f"playground/{document.stem}",
            document.read_text(),
            spec.get("signIn"),
            spec.get("variables"),
            headers=spec.get("headers"),
        )


IDS = "nodes { id }"
REPRESENTATIVE = [
    Case("login", 'mutation { login(username: "alice", password: "facade-demo") { user { id displayName } } }'),
    Case("viewer", "{ viewer { id login displayName email userCode tenantRole tenant { sourceId name } } }", "alice"),
    Case("tenant", f'{{ tenant(tenantUid: "{TENANT}") {{ id name createdAt }} }}', "alice"),
    Case("store", '{ store(id: "2") { id uid name shopName url address { city } createdAt } }'),
    Case("store-by-uid", '{ storeByUid(uid: "acme-amsterdam-0001") { id name tills { id name } }}', "alice"),
    Case("missing-store", '{ store(id: "99999") { id } }'),
    Case("product", '{ product(id: "7") { id name price averageRating ratingCount store { id } owner { id } } }'),
    Case("missing-product", '{ product(id: "99999") { id } }'),
    Case(
        "products-of-a-store",
        "{ products(storeId: 2, first: 50) { totalCount nodes { id store { id } } } "
        "apps(storeId: 2, first: 50) { totalCount nodes { id appId } } }",
    ),
    Case(
        "nested-stores",
        "{ stores(first: 5) { totalCount nodes { id products(first: 2, sortBy: PRICE, sortDirection: DESC) "
        "{ totalCount nodes { id price } } apps(first: 2) { totalCount nodes { id } } } } }",
    ),
    Case(
        "device",
        f'{{ devices(tenantUid: "{TENANT}", first: 1) {{ nodes {{ id name store {{ uid }} till {{ id }} }} }} }}',
        "alice",
    ),
    Case(
        "current-device",
        "{ currentDevice { id name status store { uid name } till { id } tenant { sourceId } } }",
        "access",
    ),
    Case(
        "search-devices",
        f'{{ searchDevices(tenantUid: "{TENANT}", filter: {{appType: CLIENT, status: ACTIVE}}, first: 50) '
        "{ totalCount nodes { id appType status } } }",
        "alice",
    ),
    Case(
        "filters",
        f'{{ devices(tenantUid: "{TENANT}", storeUid: "acme-amsterdam-0001", first: 50) {{ totalCount {IDS} }} '
        f'text: searchDevices(tenantUid: "{TENANT}", filter: {{text: "till"}}, first: 50) {{ totalCount {IDS} }} '
        "viewer { subscriptions(storeId: 1, first: 50) { totalCount nodes { id } } "
        "purchasedApps(storeId: 1, first: 50) { totalCount nodes { id } } } }",
        "alice",
    ),
    Case(
        "device-users-by-account-type",
        '{ deviceUsers(accountTypes: ["FULL"], first: 50) { totalCount nodes { id login } } '
        "all: deviceUsers(first: 50, sortBy: LOGIN, sortDirection: DESC) { totalCount nodes { id } } }",
        "device",
    ),
    # By design: Flow Retail's F7 lists a tenant's devices to TENANT.ADMIN only, so a member who
    # is not one (bob, a cashier) is refused them upstream, where local mode lists them without codes.
    Case(
        "a-members-tenant-devices",
        f'{{ tenant(tenantUid: "{TENANT}") {{ name devices(first: 50) {{ totalCount nodes {{ id deviceCode }} }} }} }}',
        "bob",
        refused=frozenset({"tenant.devices"}),
        refusal="FORBIDDEN",
    ),
    Case("foreign-devices", '{ devices(tenantUid: "nordic-bakeries", first: 5) { totalCount } }', "alice"),
    Case("validate-token", '{ validateToken(token: "not-a-token") { isValid } }'),
    # The sandbox answers a task from the store's afosto_tasks (the seed has none), else 404.
    Case("missing-afosto-task", f'{{ afostoTask(tenantUid: "{TENANT}", id: "no-such-task") {{ id name }} }}', "alice"),
    Case(
        "validate-app-manifest",
        '{ validateAppManifest(manifest: {app: "tech.flecs.x", version: "1.0.0"}) { valid errors } }',
    ),
    Case(
        "my-account",
        "{ viewer { subscriptions(first: 50) { totalCount nodes { id status lineItems { quantity product { id } } } } "
        "purchasedProducts(first: 50, storeId: 1) { totalCount nodes { id } } } }",
        "dave",
    ),
]


def anchors() -> list[tuple[str, str, str | None]]:
    """(type name, how the query reaches one, caller): where the schema's connections hang."""
    return [
        ("Query", "{}", None),
        ("Store", '{ store(id: "1") {} }', "alice"),
        ("Tenant", f'{{ tenant(tenantUid: "{TENANT}") {{}} }}', "alice"),
        ("User", "{ viewer {} }", "dave"),
        ("User", "{ viewer {} }", "alice"),
        ("Product", '{ product(id: "2") {} }', None),
    ]


# Arguments a root connection needs, and who may ask for it.
ROOT_ARGUMENTS = {"devices": f'tenantUid: "{TENANT}"', "searchDevices": f'tenantUid: "{TENANT}"'}
ROOT_CALLERS = {"devices": "alice", "searchDevices": "alice", "deviceUsers": "device"}


def scalars(node: GraphQLObjectType) -> str:
    """Every scalar or enum field of a type that takes no argument."""
    names = []
    for name, field in node.fields.items():
        if field.args:
            continue
        kind = field.type.of_type if isinstance(field.type, GraphQLNonNull) else field.type
        if isinstance(kind, GraphQLList):
            continue
        if isinstance(get_named_type(kind), GraphQLScalarType | GraphQLEnumType) and name != "manifest":
            names.append(name)
    return " ".join(names)


def sortable(parent: GraphQLObjectType) -> Iterator[tuple[str, GraphQLField]]:
    for name, field in parent.fields.items():
        if "sortBy" in field.args:
            yield name, field


def connection_cases() -> Iterator[Case]:
    types = get_schema()._schema.type_map
    for type_name, outline, caller in anchors():
        parent = types[type_name]
        assert isinstance(parent, GraphQLObjectType)
        for name, field in sortable(parent):
            sort = get_named_type(field.args["sortBy"].type)
            assert isinstance(sort, GraphQLEnumType)
            connection = get_named_type(field.type)
            assert isinstance(connection, GraphQLObjectType)
            node = get_named_type(connection.fields["nodes"].type)
            assert isinstance(node, GraphQLObjectType)
            fixed = ROOT_ARGUMENTS.get(name, "") if type_name == "Query" else ""
            page_info = "pageInfo { hasNextPage hasPreviousPage startCursor endCursor }"
            selection = f"totalCount {page_info} nodes {{ {scalars(node)} }}"
            aliases = []
            refused = set()
            prefix = "" if type_name == "Query" else outline.strip("{ ").split(" ")[0].split("(")[0] + "."
            for key in sort.values:
                for direction in ("ASC", "DESC"):
                    common = f"{fixed} sortBy: {key}, sortDirection: {direction}".strip(", ")
                    aliases.append(f"{key}_{direction}_1: {name}(first: 3, {common}) {{ {selection} }}")
                    later = f'first: 4, after: "{encode_cursor(2)}", {common}'
                    aliases.append(f"{key}_{direction}_2: {name}({later}) {{ {selection} }}")
                    if (f"{type_name}.{name}", key) in REFUSED_SORTS:
                        refused.update(f"{prefix}{key}_{direction}_{n}" for n in (1, 2))
            who = ROOT_CALLERS.get(name, caller) if type_name == "Query" else caller
            document = outline.replace("{}", "{ " + " ".join(aliases) + " }")
            yield Case(f"{type_name}.{name} as {who or 'anonymous'}", document, who, refused=frozenset(refused))


CASES = [*playground(), *REPRESENTATIVE, *connection_cases()]


# ---------------------------------------------------------------------------------------------
# The comparison


class WithTypename(Visitor):
    """Adds `__typename` to every selection set, so a response says which type each object is."""

    def leave_selection_set(self, node: SelectionSetNode, *_: Any) -> SelectionSetNode:
        typename = FieldNode(name=NameNode(value="__typename"), arguments=(), directives=())
        return SelectionSetNode(selections=(*node.selections, typename))


def typed(query: str) -> str:
    return print_ast(visit(parse(query), WithTypename()))


def without_by_design(value: Any) -> Any:
    if isinstance(value, list):
        return [without_by_design(v) for v in value]
    if isinstance(value, dict):
        kind = value.get("__typename")
        return {k: without_by_design(v) for k, v in value.items() if (kind, k) not in BY_DESIGN}
    return value


def comparable(case: Case, body: dict[str, Any]) -> dict[str, Any]:
    """The response as compared: data without the by-design fields and the refused paths, and
    each error's path and code (but the refused paths')."""
    errors = sorted(
        (".".join(map(str, e.get("path") or [])), e.get("extensions", {}).get("code")) for e in body.get("errors", [])
    )
    data = without_by_design(body.get("data"))
    for path in case.refused:
        *parents, last = path.split(".")
        holder = data
        for part in parents:
            holder = holder[part] if holder else None
        if holder:
            holder.pop(last, None)
    inside = tuple(f"{path}." for path in case.refused)
    return {"data": data, "errors": [e for e in errors if e[0] not in case.refused and not e[0].startswith(inside)]}


def refusals(case: Case, local: dict[str, Any], upstream: dict[str, Any]) -> None:
    """Where upstream mode refuses by design, it refuses with the code the case names; local mode answers."""
    coded = {".".join(map(str, e["path"])): e["extensions"]["code"] for e in upstream.get("errors", [])}
    for path in case.refused:
        assert coded.get(path) == case.refusal, f"{path}: upstream mode answered what it should refuse"
        assert path not in {".".join(map(str, e["path"])) for e in local.get("errors", [])}


def test_the_by_design_differences_name_what_the_schema_has() -> None:
    types = get_schema()._schema.type_map
    for type_name, field in BY_DESIGN:
        found = types.get(type_name)
        assert isinstance(found, GraphQLObjectType), f"BY_DESIGN names {type_name}, which the schema lacks"
        assert field in found.fields, f"BY_DESIGN names {type_name}.{field}, which the schema lacks"
    for connection, key in REFUSED_SORTS:
        type_name, field = connection.split(".")
        parent = types[type_name]
        assert isinstance(parent, GraphQLObjectType)
        sort = get_named_type(parent.fields[field].args["sortBy"].type)
        assert isinstance(sort, GraphQLEnumType)
        assert key in sort.values, f"REFUSED_SORTS names {connection} by {key}, which it cannot be sorted by"


def test_every_root_field_and_sortable_connection_is_compared() -> None:
    schema = get_schema()._schema
    documents = " ".join(case.query for case in CASES)
    query = schema.query_type
    assert query is not None
    for name in query.fields:
        # validateLicense, appManifest: test_device_sessions_answer_the_same. afosto: reads no
        # store; both modes answer it from the same emulation (in process in local mode, over
        # loopback in upstream mode), which tests/graph/test_afosto.py holds to account in each.
        if name not in ("validateLicense", "appManifest", "afosto"):
            assert f"{name}(" in documents or f"{name} {{" in documents, f"no parity case reaches Query.{name}"


def differences(local: Any, upstream: Any, path: str = "") -> Iterator[str]:
    """Where two answers differ, as `path: local != upstream` lines."""
    if isinstance(local, dict) and isinstance(upstream, dict):
        for key in dict.fromkeys([*local, *upstream]):
            yield from differences(local.get(key), upstream.get(key), f"{path}.{key}" if path else str(key))
    elif isinstance(local, list) and isinstance(upstream, list) and len(local) == len(upstream):
        for i, (a, b) in enumerate(zip(local, upstream, strict=True)):
            yield from differences(a, b, f"{path}.{i}")
    elif local != upstream:
        yield f"{path}: {json.dumps(local)[:300]} != {json.dumps(upstream)[:300]}"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
async def test_upstream_mode_answers_what_local_mode_answers(pair: Pair, case: Case) -> None:
    local, upstream = await pair.both(typed(case.query), case.caller, case.variables, case.headers)

    refusals(case, local, upstream)
    found = list(differences(comparable(case, local), comparable(case, upstream)))
    assert not found, "local != upstream:\n" + "\n".join(found[:15])


async def test_device_sessions_answer_the_same(pair: Pair) -> None:
    """validateLicense and appManifest, for a seeded device session (licences are read from the
    store in both modes, so the session is the same), and for one that does not exist."""
    licenses = await pair.local.data(
        "{ viewer { licenses(first: 50) { nodes { activationSession { id } } } } }",
        token=pair.tokens["local"]["dave"],
    )
    session = next(
        n["activationSession"]["id"] for n in licenses["viewer"]["licenses"]["nodes"] if n["activationSession"]
    )
    apps = await pair.local.data("{ apps(first: 50) { nodes { appId manifests { version } } } }")
    app = next(n for n in apps["apps"]["nodes"] if n["manifests"])
    query = typed(
        "query($s: String!, $app: String!, $v: String!) { validateLicense(sessionId: $s) { isValid session { id } } "
        "appManifest(app: $app, version: $v, sessionId: $s) { app version schemaVersion manifest } }"
    )
    for sent in (session, "0f9a3c1e-4b2d-4c8e-9a7f-1d2e3f4a5b6c"):
        variables = {"s": sent, "app": app["appId"], "v": app["manifests"][0]["version"]}
        local, upstream = await pair.both(query, None, variables)

        case = Case("device-session", query)
        found = list(differences(comparable(case, local), comparable(case, upstream)))
        assert not found, "local != upstream:\n" + "\n".join(found[:15])
