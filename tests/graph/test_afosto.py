"""The generated Afosto fields, in the suite's mode: in local mode against the sandbox's Afosto
emulation in process (the generated client over httpx's ASGI transport), in upstream mode against
the same emulation in `facade sandbox` over loopback HTTP. Reads in the
`afosto { <service> }` namespace, paged lists as connections, writes as root mutations with
idempotency keys and task acknowledgements, Afosto's refusals as codes, search-backed reads
made once per request, and every generated read field answering typed."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Callable
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
)

from conftest import Api, make_settings, mode, open_api
from facade.backends.upstream.afosto.generate import camel_key
from facade.backends.upstream.afosto.generated.operations import OPERATIONS
from facade.graph.schema import get_schema
from facade.sandbox.afosto import Afosto as Emulator
from facade.sandbox.afosto_store import HANDLED
from support.sandbox import SandboxControl

# The caller's Afosto token (upstream mode: the sandbox takes any, as its first seeded tenant's),
# and, for local mode, where facade judges, alice's facade token (acme-retail's admin: that
# tenant is the first seeded, so both modes act for one Afosto tenant).
AFOSTO = {"X-Afosto-Authorization": "Bearer any-afosto-token"}


@pytest.fixture(scope="module")
async def afosto(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Api]:
    api, _ = await open_api(make_settings(Path(tmp_path_factory.mktemp("afosto"))), products=4)
    AFOSTO["Authorization"] = f"Bearer {await api.login('alice')}"
    yield api
    await api.client.aclose()
    await api.store.aclose()


def control(api: Api) -> SandboxControl:
    """The control routes (faults, call log) of the Afosto emulation `api` is served by: the
    sandbox's over loopback in upstream mode, the in-process one's in local mode."""
    url = getattr(api.store, "sandbox_url", None)
    if url is not None:
        return SandboxControl(url)
    return SandboxControl("http://afosto.emulated", httpx.ASGITransport(app=api.store.afosto_api.emulation))


async def data(api: Api, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    return await api.data(query, variables, headers=AFOSTO)


async def test_a_read_answers_the_generated_record(afosto: Api) -> None:
    made = await data(
        afosto,
        'mutation { afostoCatCreateGroup(body: {name: "Retail", currency: "EUR", isIncludingVat: true}) { id } }',
    )
    key = made["afostoCatCreateGroup"]["id"]

    read = await data(
        afosto, "query($id: ID) { afosto { cat { group(id: $id) { id name currency isIncludingVat } } } }", {"id": key}
    )

    assert read["afosto"]["cat"]["group"] == {"id": key, "name": "Retail", "currency": "EUR", "isIncludingVat": True}


BY_ID = {
    # service: (list field and its selection, the field reading one by id)
    "cat": ("groups(first: 100) { edges { node { id name } } }", "group", "id name"),
    "wms": ("locations(first: 100) { edges { node { id name } } }", "location", "id name"),
    "iam": ("users(first: 100) { edges { node { id email } } }", "user", "id email"),
    "spl": ("hubs { id name }", "hub", "id name"),
}


@pytest.mark.parametrize("service", list(BY_ID))
async def test_every_record_a_list_answers_reads_back_by_its_id(afosto: Api, service: str) -> None:
    """A tester's seeded price group, listed by `groups`, was NOT_FOUND by `group(id:)` in local
    mode (the list read the store, the one by id only what the generic writes had made); so were
    a location, a user and a print hub."""
    listing, one, fields = BY_ID[service]
    name = listing.partition("(")[0].partition(" ")[0]
    found = (await data(afosto, f"{{ afosto {{ {service} {{ {listing} }} }} }}"))["afosto"][service][name]
    records = [edge["node"] for edge in found["edges"]] if isinstance(found, dict) else found
    assert records, found
    for record in records:
        read = await data(
            afosto,
            f"query($id: ID) {{ afosto {{ {service} {{ {one}(id: $id) {{ {fields} }} }} }} }}",
            {"id": record["id"]},
        )
        assert read["afosto"][service][one] == record


async def test_a_paged_list_is_a_connection_over_two_pages(afosto: Api) -> None:
    for name in ("North", "South", "East"):
        await data(
            afosto,
            "mutation($n: String) { afostoCatCreateChannel(body: {name: $n, type: STOREFRONT}) { id } }",
            {"n": name},
        )
    query = """query($after: String) { afosto { cat { channels(first: 2, after: $after) {
        edges { cursor node { id name } } pageInfo { hasNextPage hasPreviousPage endCursor } totalCount } } } }"""

    first = (await data(afosto, query))["afosto"]["cat"]["channels"]
    second = (await data(afosto, query, {"after": first["pageInfo"]["endCursor"]}))["afosto"]["cat"]["channels"]

    assert len(first["edges"]) == 2
    assert first["pageInfo"]["hasNextPage"] is True
    assert first["pageInfo"]["hasPreviousPage"] is False
    assert second["pageInfo"]["hasPreviousPage"] is True
    seen = [e["node"]["id"] for e in first["edges"] + second["edges"]]
    assert len(seen) == len(set(seen)) >= 3
    assert "afosto" not in first["pageInfo"]["endCursor"]  # opaque


async def test_a_foreign_cursor_is_bad_user_input(afosto: Api) -> None:
    error = await afosto.error(
        '{ afosto { cat { channels(first: 2, after: "bm90LWEtY3Vyc29y") { totalCount } } } }', headers=AFOSTO
    )

    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    # Nor one of its own spelt otherwise (a page number with a leading zero, junk after the text).
    first = await afosto.data("{ afosto { cat { channels(first: 1) { pageInfo { endCursor } } } } }", headers=AFOSTO)
    own = first["afosto"]["cat"]["channels"]["pageInfo"]["endCursor"]
    text = base64.urlsafe_b64decode(own).decode()
    prefix, page, size = text.rsplit(":", 2)
    for other in (f"{prefix}:0{page}:{size}", f"{prefix}:{page}:0{size}"):
        spelt = base64.urlsafe_b64encode(other.encode()).decode()
        error = await afosto.error(
            "query($a: String) { afosto { cat { channels(first: 1, after: $a) { totalCount } } } }",
            {"a": spelt},
            headers=AFOSTO,
        )
        assert error["extensions"]["code"] == "BAD_USER_INPUT", other


async def test_a_write_takes_an_idempotency_key(afosto: Api) -> None:
    # The key reaching Afosto as x-idempotency-key: tests/backends/upstream/test_afosto_client.py.
    made = await data(
        afosto,
        'mutation { afostoOdrCreateOrderStack(id: "order-1", idempotencyKey: "stack-1", body: {}) { __typename } }',
    )

    assert made["afostoOdrCreateOrderStack"]["__typename"] == "AfostoOdrStack"


@pytest.mark.parametrize("key", ["ä-latin1", "\U0001f600", "\u00a0nbsp", " lead", "trail ", "line\nbreak", ""])
async def test_a_header_argument_a_header_cannot_carry_is_bad_user_input(afosto: Api, key: str) -> None:
    """A tester's idempotencyKey of "ä-latin1" was INTERNAL_SERVER_ERROR through httpx (which
    cannot encode it) and " lead" UPSTREAM_ERROR; aiohttp sent the bytes as they came. Refused
    where the argument is read, whatever the transport; nothing is sent."""
    error = await afosto.error(
        'mutation($k: String) { afostoOdrCreateOrderStack(id: "order-1", idempotencyKey: $k, body: {}) '
        "{ __typename } }",
        {"k": key},
        headers=AFOSTO,
    )
    assert (error["extensions"]["code"], error["extensions"]["field"]) == ("BAD_USER_INPUT", "idempotencyKey"), error


async def test_an_asynchronous_write_answers_an_ack_with_its_task(afosto: Api) -> None:
    made = await data(afosto, 'mutation { afostoCntUpdateBatchValidate(id: "batch-1") { status taskId } }')

    ack = made["afostoCntUpdateBatchValidate"]
    assert 200 <= ack["status"] < 300
    assert ack["taskId"]


async def test_an_afosto_refusal_is_its_code(afosto: Api) -> None:
    missing = await afosto.error('{ afosto { cat { group(id: "no-such-group") { id } } } }', headers=AFOSTO)
    unauthenticated = await afosto.error('{ afosto { cat { group(id: "x") { id } } } }')

    assert missing["extensions"]["code"] == "NOT_FOUND"
    assert missing["extensions"]["reference"]
    assert missing["path"] == ["afosto", "cat", "group"]
    assert unauthenticated["extensions"]["code"] == "UNAUTHENTICATED"


async def test_an_argument_beyond_its_rule_is_refused_before_afosto_is_called(afosto: Api) -> None:
    async with control(afosto) as sandbox:
        error = await afosto.error(
            "query($id: ID) { afosto { cat { group(id: $id) { id } } } }", {"id": "x" * 201}, headers=AFOSTO
        )
        calls = await sandbox.calls()

    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert calls == {}


async def test_one_search_asked_twice_in_a_request_is_one_call(afosto: Api) -> None:
    query = """{ afosto { odr {
        a: searchOrders(body: {constraints: []}) { id number }
        b: searchOrders(body: {constraints: []}) { id }
    } } }"""
    async with control(afosto) as sandbox:
        answered = await data(afosto, query)
        calls = await sandbox.calls()

    assert [o["id"] for o in answered["afosto"]["odr"]["a"]] == [o["id"] for o in answered["afosto"]["odr"]["b"]]
    assert calls == {"POST /afosto/odr/search/orders": 1}


async def test_local_mode_answers_afosto_in_process_with_no_url(afosto: Api) -> None:
    if mode() == "upstream":
        pytest.skip("the suite runs in upstream mode: Afosto is the sandbox's, over loopback")
    assert afosto.settings.afosto_url == "local"
    made = await data(afosto, 'mutation { afostoCatCreateGroup(body: {name: "Local", currency: "EUR"}) { id } }')
    key = made["afostoCatCreateGroup"]["id"]
    async with control(afosto) as sandbox:
        read = await data(afosto, "query($id: ID) { afosto { cat { group(id: $id) { name } } } }", {"id": key})
        calls = await sandbox.calls()

    assert read["afosto"]["cat"]["group"] == {"name": "Local"}
    assert calls == {"GET /afosto/cat/groups/{id}": 1}  # the emulation's own call log


CHANNELS = "{ afosto { cat { channels(first: 100) { edges { node { id name } } } } } }"
CREATE_CHANNEL = 'mutation { afostoCatCreateChannel(body: {name: "Pop-up", type: STOREFRONT}) { id } }'


async def test_local_mode_judges_afosto_calls_by_the_tenant_the_caller_belongs_to(afosto: Api) -> None:
    """Local mode's Afosto namespace answers from the rows the domain graph guards, so facade
    judges as it does there: a person of a tenant reads that tenant's Afosto data, its admin
    writes; any `X-Afosto-Authorization` text alone is nobody."""
    if mode() == "upstream":
        pytest.skip("upstream, Afosto judges the caller's Afosto token")
    header = {"X-Afosto-Authorization": "Bearer anything"}
    tokens = {login: await afosto.login(login) for login in ("alice", "bob", "carol", "dave")}

    def ids(body: dict[str, Any]) -> set[str]:
        return {e["node"]["id"] for e in body["data"]["afosto"]["cat"]["channels"]["edges"]}

    acme = ids(await afosto.post(CHANNELS, token=tokens["alice"], headers=header))
    nordic = ids(await afosto.post(CHANNELS, token=tokens["carol"], headers=header))
    assert acme
    assert nordic
    assert not acme & nordic  # each admin sees their own tenant's channels
    assert ids(await afosto.post(CHANNELS, token=tokens["bob"], headers=header)) == acme  # a member reads

    refused = {
        "anonymous read": (await afosto.post(CHANNELS, headers=header), "UNAUTHENTICATED"),
        "anonymous write": (await afosto.post(CREATE_CHANNEL, headers=header), "UNAUTHENTICATED"),
        "member's write": (await afosto.post(CREATE_CHANNEL, token=tokens["bob"], headers=header), "FORBIDDEN"),
        "no tenant's read": (await afosto.post(CHANNELS, token=tokens["dave"], headers=header), "FORBIDDEN"),
    }
    for what, (body, code) in refused.items():
        assert [e["extensions"]["code"] for e in body["errors"]] == [code], what
    # Nothing the refused writes asked for was written.
    assert ids(await afosto.post(CHANNELS, token=tokens["alice"], headers=header)) == acme


async def admin_of(api: Api, login: str, tenant: str) -> dict[str, str]:
    """`login`'s request headers as their tenant's admin: their facade token and, in upstream
    mode, their tenant's own Afosto token (the sandbox's); local mode sends any text, as facade
    acts for the Afosto tenant linked to the caller's tenant there."""
    afosto = "Bearer anything"
    if mode() == "upstream":
        from support.sandbox import afosto_token

        link = (await api.store.links.afosto_tenants([tenant]))[tenant]
        afosto = f"Bearer {afosto_token(api.token_settings, link.afosto_tenant_id)}"
    return {"Authorization": f"Bearer {await api.login(login)}", "X-Afosto-Authorization": afosto}


CREATE_LOCATION = "mutation($n: String) { afostoLcsCreateLocation(body: {name: $n}) { id } }"
RENAME_LOCATION = "mutation($id: ID, $n: String) { afostoLcsUpdateLocation(id: $id, body: {name: $n}) { name } }"
LOCATION = "query($id: ID) { afosto { lcs { location(id: $id) { name } } } }"
LOCATIONS = "{ afosto { lcs { locations(first: 100) { edges { node { id } } } } } }"
CREATE_DATASET = "mutation($r: String) { afostoCntCreateDataset(body: {reference: $r}) { id } }"
DATASET = "query($id: ID) { afosto { cnt { dataset(id: $id) { id } } } }"
DATASETS = "{ afosto { cnt { datasets(first: 100) { edges { node { id } } } } } }"


async def test_one_afosto_tenants_records_are_not_anothers(afosto: Api) -> None:
    """A record made in a generic Afosto collection is the caller's Afosto tenant's: another
    tenant's admin cannot read, rename or list it (a tester renamed acme's location as carol),
    and the same body made by both is two records."""
    alice = await admin_of(afosto, "alice", "acme-retail")
    carol = await admin_of(afosto, "carol", "nordic-bakeries")
    made = await afosto.data(CREATE_LOCATION, {"n": "ACME secret warehouse"}, headers=alice)
    key = made["afostoLcsCreateLocation"]["id"]
    dataset = (await afosto.data(CREATE_DATASET, {"r": "acme-secret"}, headers=alice))["afostoCntCreateDataset"]["id"]

    read = await afosto.post(LOCATION, {"id": key}, headers=carol)
    renamed = await afosto.post(RENAME_LOCATION, {"id": key, "n": "renamed by carol"}, headers=carol)
    listed = await afosto.data(LOCATIONS, headers=carol)
    read_dataset = await afosto.post(DATASET, {"id": dataset}, headers=carol)
    datasets = await afosto.data(DATASETS, headers=carol)
    theirs = await afosto.data(CREATE_LOCATION, {"n": "ACME secret warehouse"}, headers=carol)

    for refused in (read, renamed, read_dataset):
        assert [e["extensions"]["code"] for e in refused.get("errors", [])] == ["NOT_FOUND"], refused
    assert key not in {e["node"]["id"] for e in listed["afosto"]["lcs"]["locations"]["edges"]}
    assert dataset not in {e["node"]["id"] for e in datasets["afosto"]["cnt"]["datasets"]["edges"]}
    assert theirs["afostoLcsCreateLocation"]["id"] != key
    own = await afosto.data(LOCATION, {"id": key}, headers=alice)
    assert own["afosto"]["lcs"]["location"] == {"name": "ACME secret warehouse"}
    assert (await afosto.data(DATASET, {"id": dataset}, headers=alice))["afosto"]["cnt"]["dataset"] == {"id": dataset}


async def test_local_mode_emulation_applies_faults_and_retries_reads(afosto: Api) -> None:
    # The same client as upstream mode: a passing 503 on a read is retried, a write is not.
    async with control(afosto) as sandbox:
        await sandbox.faults("GET /afosto/cat/groups*=status:503x1")
        read = await afosto.post("{ afosto { cat { groups { totalCount } } } }", headers=AFOSTO)
        await sandbox.faults("POST /afosto/cat/groups=status:503x1")
        write = await afosto.post('mutation { afostoCatCreateGroup(body: {name: "x"}) { id } }', headers=AFOSTO)
        calls = await sandbox.calls()

    assert "errors" not in read
    assert write["errors"][0]["extensions"]["code"] == "UPSTREAM_ERROR"
    assert calls == {"GET /afosto/cat/groups": 2, "POST /afosto/cat/groups": 1}


# ---------------------------------------------------------------------------------------------
# Every generated read field, once, and every collection's writes: no error at all.


def selection(type_: Any, depth: int = 0, deepest: int = 2) -> str:
    """Every leaf of `type_` `deepest` levels deep (objects beyond are left out; at least __typename)."""
    while isinstance(type_, GraphQLNonNull | GraphQLList):
        type_ = type_.of_type
    if isinstance(type_, GraphQLScalarType | GraphQLEnumType):
        return ""
    fields = ["__typename"]
    for name, field in type_.fields.items():
        if any(isinstance(a.type, GraphQLNonNull) for a in field.args.values()):
            continue
        inner = selection(field.type, depth + 1, deepest) if depth < deepest else None
        named = unwrapped(field.type)
        if isinstance(named, GraphQLObjectType):
            if inner:
                fields.append(f"{name} {{ {inner} }}")
        else:
            fields.append(name)
    return " ".join(fields)


def unwrapped(type_: Any) -> Any:
    while isinstance(type_, GraphQLNonNull | GraphQLList):
        type_ = type_.of_type
    return type_


def argument_value(type_: Any) -> str:
    while isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    if isinstance(type_, GraphQLList):
        return "[]"
    if isinstance(type_, GraphQLEnumType):
        return next(iter(type_.values))
    if isinstance(type_, GraphQLInputObjectType):
        return "{}"  # a body: every input field is nullable (the docs mark nothing required)
    return {"Int": "1", "Boolean": "false", "Int64": "1"}.get(type_.name, '"a1"')


def literal(value: Any) -> str:
    return str(value) if isinstance(value, int) else f'"{value}"'


def document(field: Any, called: str, keyword: str = "", deepest: int = 2) -> str:
    """`called` with a selection of its answer, inside `keyword` (`mutation`) or the namespace."""
    inner = selection(field.type, deepest=deepest)
    return f"{keyword} {{ {called} {{ {inner} }} }}" if inner else f"{keyword} {{ {called} }}"


def call_of(name: str, field: Any, given: dict[str, str]) -> str:
    args = [f"{a}: {given.get(a) or argument_value(arg.type)}" for a, arg in field.args.items() if a != "after"]
    return f"{name}({', '.join(args)})" if args else name


def namespace_fields() -> list[tuple[str, str, Any]]:
    schema = get_schema()._schema
    namespace = schema.get_type("Afosto")
    assert isinstance(namespace, GraphQLObjectType)
    return [
        (service, name, field)
        for service, service_field in namespace.fields.items()
        for name, field in unwrapped(service_field.type).fields.items()
    ]


def read_query(service: str, name: str, field: Any, given: dict[str, str], deepest: int) -> str:
    inner = document(field, call_of(name, field, given), deepest=deepest)
    return f"{{ afosto {{ {service} {inner} }} }}"


def key_argument(op: Any, key: str) -> str:
    param = next(p for p in op.params if p.name == key)
    return camel_key(param.argument)


async def post_within_cost(api: Api, query: Callable[[int], str]) -> dict[str, Any]:
    """The answer to `query(2)`, the selection two levels deep, or a shallower one where that
    costs more than the limit (a few answers nest lists of lists)."""
    for deepest in (2, 1, 0):
        body = await api.post(query(deepest), headers=AFOSTO)
        codes = {e.get("extensions", {}).get("code") for e in body.get("errors", ())}
        if "COST_LIMIT_EXCEEDED" not in codes:
            break
    return body


def needs_a_record(key: str) -> bool:
    """A hand-modelled operation this sweep cannot call blind: a write (the store refuses one
    without its required fields) or a read of one record by its key (404 for a made-up key)."""
    op = next(o for o in OPERATIONS if o.key == key)
    return key in HANDLED and (not op.read or any(p.location == "path" for p in op.params))


async def test_every_generated_read_and_collection_write_answers_typed_without_error(afosto: Api) -> None:
    """Each collection's create, then every read (a collection's own read of what was created),
    then each collection's update and delete: every answer typed, no error at all. The
    hand-modelled operations that need a real record are the stateful tests' (tests/sandbox/
    test_afosto_store.py, tests/backends/upstream/test_afosto_commerce.py)."""
    schema = get_schema()._schema
    mutations = schema.mutation_type
    assert mutations is not None
    emulator = Emulator()
    failures: list[tuple[str, Any]] = []
    keys: dict[str, str] = {}  # collection path -> the created record's key, as a literal
    skipped = 0
    for path, collection in emulator.collections.items():
        create = next(s.op for s in emulator.specs if s.kind == "create" and s.collection == path)
        if needs_a_record(create.key):
            skipped += 1
            continue
        field = mutations.fields[create.field]
        key_field = camel_key(collection.key)
        query = f"mutation {{ {call_of(create.field, field, {})} {{ {key_field} }} }}"
        body = await afosto.post(query, headers=AFOSTO)
        made = (body.get("data") or {}).get(create.field) or {}
        if isinstance(made, list):  # a create that answers the records it made
            made = made[0] if made else {}
        if body.get("errors") or made.get(key_field) is None:
            failures.append((create.field, body))
            continue
        keys[path] = literal(made[key_field])
    gets = {(s.op.service, s.op.field): s for s in emulator.specs if s.kind == "get"}
    for service, name, field in namespace_fields():
        spec = gets.get((service, name))
        op = next(o for o in OPERATIONS if o.read and o.service == service and o.field == name)
        if needs_a_record(op.key):
            continue
        given = {}
        if spec is not None and spec.collection in keys:
            given[key_argument(spec.op, spec.params[-1])] = keys[spec.collection]
        body = await post_within_cost(afosto, partial(read_query, service, name, field, given))
        if "errors" in body:
            failures.append((f"{service}.{name}", body["errors"]))
    for kind in ("update", "delete"):
        for spec in emulator.specs:
            if spec.kind != kind or spec.collection not in keys or not spec.params:
                continue
            field = mutations.fields[spec.op.field]
            given = {key_argument(spec.op, spec.params[-1]): keys[spec.collection]}
            called = call_of(spec.op.field, field, given)
            body = await post_within_cost(afosto, partial(document, field, called, "mutation"))
            if "errors" in body:
                failures.append((spec.op.field, body["errors"]))

    assert failures == []
    assert len(namespace_fields()) == sum(op.read for op in OPERATIONS) == 277
    assert len(keys) + skipped == len(emulator.collections) == 41
    assert skipped == 2  # orders and channels: the store's


def test_local_mode_knows_the_client_credentials_grant_by_the_generators_key() -> None:
    from facade.backends.upstream.afosto.openapi import TOKEN_OPERATION
    from facade.graph.afosto.local import TOKEN_OPERATION as LOCAL_TOKEN_OPERATION

    assert LOCAL_TOKEN_OPERATION == TOKEN_OPERATION
