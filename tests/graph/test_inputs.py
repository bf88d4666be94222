"""Bad input is refused with BAD_USER_INPUT and nothing is written: every argument and input field
declares its rule (`@constraint`, graph/inputs.py), ids and cursors beyond what a store can hold
are refused, and a value an upstream sends that the schema cannot carry is the upstream's error
(UPSTREAM_ERROR), never the caller's."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql import GraphQLInputObjectType, GraphQLList, GraphQLNonNull, GraphQLObjectType, GraphQLScalarType
from sqlalchemy import func, select, update

from conftest import Api, make_settings, open_api
from facade.app import create_app
from facade.backends.local import tables as t
from facade.graph.afosto.calls import CHECKED
from facade.graph.base import EDGE, NEED
from facade.graph.inputs import Constraint, constraint_of
from facade.graph.schema import get_schema

TENANT = "acme-retail"
AMSTERDAM = "acme-amsterdam-0001"
OVERFLOW = "99999999999999999999"  # beyond 64 bits
BEYOND_INT32 = str(2**31)  # beyond a PostgreSQL integer and a GraphQL Int


def _named(type_: Any) -> Any:
    while isinstance(type_, GraphQLNonNull | GraphQLList):
        type_ = type_.of_type
    return type_


def _rule(definition: Any) -> Constraint | None:
    strawberry_definition = (definition.extensions or {}).get("strawberry-definition")
    return constraint_of(getattr(strawberry_definition, "directives", ()))


def test_every_string_number_and_json_argument_and_input_field_declares_its_rule() -> None:
    """So a new argument cannot be added without a limit: walks the whole schema."""
    schema = get_schema()._schema
    unruled: list[str] = []
    checked = 0
    for type_ in schema.type_map.values():
        if type_.name.startswith("__"):
            continue
        places: list[tuple[str, Any]] = []
        if isinstance(type_, GraphQLObjectType):
            for field_name, field in type_.fields.items():
                places += [(f"{type_.name}.{field_name}({name}:)", a) for name, a in field.args.items()]
        elif isinstance(type_, GraphQLInputObjectType):
            places += [(f"{type_.name}.{name}", f) for name, f in type_.fields.items()]
        for where, definition in places:
            named = _named(definition.type)
            if isinstance(named, GraphQLScalarType) and named.name in ("String", "ID", "Int", "Float", "JSON"):
                checked += 1
                rule = _rule(definition)
                if rule is None:
                    unruled.append(where)
                elif named.name in ("String", "ID", "JSON") and not rule.max_length:
                    unruled.append(f"{where} (no maxLength)")
    assert checked > 50
    assert unruled == []


def test_every_field_with_arguments_enforces_their_rules() -> None:
    """The rules are enforced where arguments arrive: root fields through their declared
    permission (base.guarded runs `validated`), other fields as paged edges (EdgeSpec checks
    their filters) or as generated Afosto reads (graph/afosto/calls.py checks them, `CHECKED`).
    A field with arguments that is none of these would skip its rules."""
    schema = get_schema()._schema
    roots = {schema.query_type.name, schema.mutation_type.name}
    unenforced = []
    for type_ in schema.type_map.values():
        if type_.name.startswith("__") or not isinstance(type_, GraphQLObjectType):
            continue
        for name, field in type_.fields.items():
            if not field.args:
                continue
            definition = (field.extensions or {}).get("strawberry-definition")
            metadata = getattr(definition, "metadata", {})
            edge = metadata.get(EDGE)
            enforced = (
                NEED in metadata
                if type_.name in roots
                else (edge is not None and edge.paged) or metadata.get(CHECKED) is True
            )
            if not enforced:
                unenforced.append(f"{type_.name}.{name}")
    assert unenforced == []


# ---------------------------------------------------------------------------------------------
# Both execution paths over one store: the compiled plans and Strawberry's standard executor.


@pytest.fixture(scope="module")
async def store(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Api]:
    api, _ = await open_api(make_settings(Path(tmp_path_factory.mktemp("inputs"))), products=40)
    yield api
    await api.client.aclose()
    await api.store.aclose()


@pytest.fixture(params=["compiled", "standard"])
async def both(request: pytest.FixtureRequest, store: Api) -> AsyncIterator[Api]:
    settings = store.settings.model_copy(update={"compiled": request.param == "compiled"})
    app = create_app(settings, backend=store.store)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://facade.test")
    yield Api(client=client, store=store.store, settings=settings)
    await client.aclose()


def code(error: dict[str, Any]) -> str:
    value: str = error["extensions"]["code"]
    return value


def cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    "query",
    [
        f'{{ product(id: "{OVERFLOW}") {{ id }} }}',
        f'{{ product(id: "{BEYOND_INT32}") {{ id }} }}',
        f'{{ store(id: "{OVERFLOW}") {{ id }} }}',
        f'{{ store(id: "{BEYOND_INT32}") {{ id }} }}',
        '{ product(id: "1" ) { id } product2: product(id: "١") { id } }',  # Arabic-Indic digit one
        '{ product(id: "1_0") { id } }',
        '{ product(id: " 1") { id } }',
        f'{{ product(id: "{"9" * 5000}") {{ id }} }}',  # beyond Python's int() digit limit
        "{ products(storeId: 0) { totalCount } }",
        "{ products(storeId: -1) { totalCount } }",
        f'{{ storeByUid(uid: "{"a" * 65}") {{ id }} }}',
        f'{{ tenant(tenantUid: "{"a" * 65}") {{ id }} }}',
    ],
)
async def test_ids_beyond_what_a_store_holds_are_bad_user_input(both: Api, query: str) -> None:
    body = await both.post(query, token=await both.login("alice"))

    assert body["errors"], body
    assert {code(e) for e in body["errors"]} == {"BAD_USER_INPUT"}, body["errors"]


@pytest.mark.parametrize(
    "after",
    [
        cursor(f"o:{OVERFLOW}"),
        cursor(f"o:{2**31 - 1}"),
        cursor("o:-1"),
        cursor("o:" + "9" * 5000),
        "A" * 65,
        "bm90IGEgY3Vyc29y\x00",
        # Texts that int() would read as a position, but that this API never writes.
        cursor("o:01"),
        cursor("o: 1"),
        cursor("o:\u0661"),  # ARABIC-INDIC DIGIT ONE
        cursor("o:1") + "x",
        cursor("o:33")[:-3] + "x==",  # `bzozMx==` for `bzozMw==` (o:33): spare bits set in the last character
    ],
)
@pytest.mark.parametrize(
    "query",
    [
        "query($after: String) { products(first: 2, after: $after) { totalCount } }",
        "query($after: String) { stores(first: 1) { nodes { products(first: 2, after: $after) { totalCount } } } }",
    ],
)
async def test_cursors_beyond_a_list_are_bad_user_input(both: Api, query: str, after: str) -> None:
    body = await both.post(query, {"after": after})

    assert body["errors"], body
    assert {code(e) for e in body["errors"]} == {"BAD_USER_INPUT"}, body["errors"]


async def test_the_largest_cursor_a_list_can_reach_is_accepted(both: Api) -> None:
    data = await both.data(
        "query($after: String) { products(first: 2, after: $after) { nodes { id } } }",
        {"after": cursor(f"o:{2**31 - 2}")},
    )

    assert data["products"]["nodes"] == []


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        ("query($t: String!) { validateToken(token: $t) { isValid } }", {"t": "x" * 8193}),
        (
            'query($f: DeviceSearch) { searchDevices(tenantUid: "acme-retail", filter: $f) { totalCount } }',
            {"f": {"text": "x" * 201}},
        ),
        (
            'query($f: DeviceSearch) { searchDevices(tenantUid: "acme-retail", filter: $f) { totalCount } }',
            {"f": {"text": "kiosk\x00"}},
        ),
        (
            "query($a: [String!]) { stores(first: 1) { nodes { users(accountTypes: $a) { totalCount } } } }",
            {"a": ["FULL"] * 11},
        ),
        (
            'query($a: String!) { appManifest(app: $a, version: "1.0.0", '
            'sessionId: "00000000-0000-4000-8000-000000000000") { app } }',
            {"a": "tech.flecs\x00"},
        ),
        ("query($m: JSON!) { validateAppManifest(manifest: $m) { valid } }", {"m": {"app": "x" * 262_144}}),
    ],
)
async def test_query_arguments_beyond_their_rule_are_bad_user_input(
    both: Api, query: str, variables: dict[str, Any]
) -> None:
    token = await both.login("alice")

    body = await both.post(query, variables, token=token)

    assert body["errors"], body
    assert {code(e) for e in body["errors"]} == {"BAD_USER_INPUT"}, body["errors"]


# ---------------------------------------------------------------------------------------------
# Writes: refused, and nothing is stored


async def count(api: Api, table: Any) -> int:
    async with api.store.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


REGISTER = """
mutation($clientId: String!, $name: String, $info: String) {
  registerDevice(clientId: $clientId, name: $name, systemInformation: $info) { deviceCode }
}
"""


async def test_five_megabytes_of_system_information_are_refused_and_nothing_is_stored(fresh_api: Api) -> None:
    before = await count(fresh_api, t.devices)

    just_over = await fresh_api.error(REGISTER, {"clientId": "pos-vendor-42", "info": "x" * 4097})
    response = await fresh_api.client.post(
        "/graphql", json={"query": REGISTER, "variables": {"clientId": "pos-vendor-42", "info": "x" * 5_000_000}}
    )

    assert code(just_over) == "BAD_USER_INPUT"
    # Refused as a GraphQL error, or (with a request body limit below 5 MB) before parsing.
    if response.status_code == 200:
        assert code(response.json()["errors"][0]) == "BAD_USER_INPUT"
    else:
        assert response.status_code == 413
    assert await count(fresh_api, t.devices) == before
    # Within the rule, with the newlines of a `uname -a` and a tab, it is stored.
    assert await fresh_api.data(REGISTER, {"clientId": "pos-vendor-42", "info": "Linux kiosk\n6.1\t#1"})
    assert await count(fresh_api, t.devices) == before + 1


@pytest.mark.parametrize(
    "variables",
    [
        {"clientId": "pos\x00vendor"},
        {"clientId": "pos-vendor-42", "name": "Kiosk\x00"},
        {"clientId": "pos-vendor-42", "name": "Kiosk\n2"},  # a name is one line
        {"clientId": "pos-vendor-42", "info": "Linux\x00"},
        {"clientId": "pos-vendor-42", "name": "K" * 201},
        {"clientId": "p" * 101},
    ],
)
async def test_a_nul_or_an_over_long_string_in_a_registration_is_refused_and_nothing_is_stored(
    fresh_api: Api, variables: dict[str, Any]
) -> None:
    before = await count(fresh_api, t.devices)

    # Sent as a client's JSON encoder would (a lone surrogate only travels \u-escaped).
    response = await fresh_api.client.post(
        "/graphql",
        content=json.dumps({"query": REGISTER, "variables": variables}),
        headers={"Content-Type": "application/json"},
    )

    assert code(response.json()["errors"][0]) == "BAD_USER_INPUT"
    assert await count(fresh_api, t.devices) == before


REGISTER_LICENSE = """
mutation($m: ManufacturerInput!, $model: String!, $serial: String!) {
  registerDeviceLicense(manufacturer: $m, model: $model, serialNumber: $serial, manufactureDate: "2024-01-01") { id }
}
"""


@pytest.mark.parametrize(
    "variables",
    [
        {"m": {"id": -1, "name": "Acme"}, "model": "IPC-1", "serial": "SN-IN-1"},
        {"m": {"id": 0, "name": "Acme"}, "model": "IPC-1", "serial": "SN-IN-2"},
        {"m": {"id": 7, "name": "Acme\x00"}, "model": "IPC-1", "serial": "SN-IN-3"},
        {"m": {"id": 7, "name": "Acme"}, "model": "I" * 201, "serial": "SN-IN-4"},
        {"m": {"id": 7, "name": "Acme"}, "model": "IPC-1", "serial": "SN\x00"},
    ],
)
async def test_a_device_license_with_a_bad_manufacturer_or_text_is_refused_and_nothing_is_stored(
    fresh_api: Api, variables: dict[str, Any]
) -> None:
    token = await fresh_api.login("alice")
    before = await count(fresh_api, t.devices)

    error = await fresh_api.error(REGISTER_LICENSE, variables, token=token)

    assert code(error) == "BAD_USER_INPUT", error
    assert await count(fresh_api, t.devices) == before


async def test_a_nul_in_a_device_name_is_refused_on_create_and_update_and_nothing_changes(fresh_api: Api) -> None:
    alice = await fresh_api.login("alice")
    before = await count(fresh_api, t.devices)
    create = """mutation($name: String) { createDevice(tenantUid: "acme-retail", storeUid: "acme-amsterdam-0001",
                appType: CLIENT, name: $name) { id name } }"""

    refused = await fresh_api.error(create, {"name": "Till\x00 1"}, token=alice)
    created = (await fresh_api.data(create, {"name": "Till 1"}, token=alice))["createDevice"]
    changed = await fresh_api.error(
        """mutation($uid: String!, $changes: DeviceChanges!) {
             updateDevice(tenantUid: "acme-retail", deviceUid: $uid, changes: $changes) { name } }""",
        {"uid": created["id"], "changes": {"name": "Till\x00 2"}},
        token=alice,
    )

    assert code(refused) == "BAD_USER_INPUT"
    assert code(changed) == "BAD_USER_INPUT"
    assert changed["extensions"]["field"] == "changes.name"
    assert await count(fresh_api, t.devices) == before + 1
    one = await fresh_api.data(
        'query($uid: String!) { device(tenantUid: "acme-retail", deviceUid: $uid) { name } }',
        {"uid": created["id"]},
        token=alice,
    )
    assert one["device"]["name"] == "Till 1"


async def test_a_review_beyond_its_rule_or_of_an_overflowing_product_is_refused(fresh_api: Api) -> None:
    token = await fresh_api.login("alice")
    before = await count(fresh_api, t.reviews)
    post = "mutation($p: ID!, $r: String!) { postReview(productId: $p, review: $r, rating: 4) { id } }"

    for variables in ({"p": OVERFLOW, "r": "ok"}, {"p": "1", "r": "x" * 10_001}, {"p": "1", "r": "ok\x00"}):
        error = await fresh_api.error(post, variables, token=token)
        assert code(error) == "BAD_USER_INPUT", variables

    assert await count(fresh_api, t.reviews) == before
    # A review is multi-line text.
    assert await fresh_api.data(post, {"p": "1", "r": "Good.\r\nWould buy again."}, token=token)


async def test_an_over_long_password_is_refused_before_it_is_hashed(api: Api) -> None:
    error = await api.error(
        'mutation($p: String!) { login(username: "alice", password: $p) { token } }', {"p": "x" * 1025}
    )

    assert code(error) == "BAD_USER_INPUT"


# ---------------------------------------------------------------------------------------------
# A value the schema cannot carry: the upstream's fault in upstream mode, a bug in local mode


@pytest.fixture(params=["local", "upstream"])
async def huge_rating_count(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[tuple[str, Api]]:
    """A store where product 1 has 2^40 ratings (SQLite: PostgreSQL's integer column would refuse
    it), served by the local store or through the sandbox over HTTP."""
    settings = make_settings(tmp_path, upstream_retries=0)
    api, _ = await open_api(settings, products=10, database="sqlite", upstream=request.param == "upstream")
    async with api.store.engine.begin() as conn:
        await conn.execute(update(t.products).where(t.products.c.id == 1).values(rating_count=2**40))
    yield request.param, api
    await api.client.aclose()
    await api.store.aclose()


@pytest.mark.parametrize("compiled", [True, False])
@pytest.mark.parametrize(
    ("query", "from_flecs"),
    [
        # FLECS has no product-by-id read: in upstream mode the local directory answers it.
        ('{ product(id: "1") { id ratingCount } }', False),
        ("{ products(first: 3) { nodes { id ratingCount } } }", True),
    ],
)
async def test_an_int_beyond_32_bits_from_a_backend_is_not_the_callers_fault(
    huge_rating_count: tuple[str, Api], compiled: bool, query: str, from_flecs: bool
) -> None:
    where, api = huge_rating_count
    settings = api.settings.model_copy(update={"compiled": compiled})
    app = create_app(settings, backend=api.store)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://facade.test") as client:
        body = (await client.post("/graphql", json={"query": query})).json()

    errors = body["errors"]
    assert len(errors) == 1, errors
    assert "1099511627776" not in str(body)  # the value itself is not echoed
    if where == "upstream":
        assert errors[0]["extensions"]["code"] == "UPSTREAM_ERROR", errors
        if from_flecs:  # caught where it entered, naming the API
            assert "FLECS" in errors[0]["extensions"]["upstream"]
            assert errors[0]["path"] == ["products"]
    else:
        assert errors[0]["extensions"] == {"code": "INTERNAL_SERVER_ERROR"}, errors
