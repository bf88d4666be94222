"""The Afosto emulation of the sandbox (`/afosto`), over a real socket: records created through
the generic collections are read back, listed, searched, updated and deleted across services;
lists honour the paging headers; the asynchronous operations send a task id; answers without a
record are derived from the documented models, the same for the same request; errors are Afosto's
`Error`; and the sandbox's faults and call counts cover the Afosto routes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from facade.backends.upstream.afosto.generated.operations import OPERATIONS
from facade.sandbox.afosto import Afosto
from sandbox.conftest import Sandbox, run_sandbox
from support.sandbox import afosto_token

TOKEN = {"Authorization": "Bearer any-afosto-token"}


@pytest.fixture(scope="module")
def afosto_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """A sandbox of its own: the fault rules and call counts would upset other tests."""
    with run_sandbox(tmp_path_factory.mktemp("afosto"), products=8) as running:
        yield running


@pytest.fixture
async def http(afosto_sandbox: Sandbox) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=f"{afosto_sandbox.url}/afosto", headers=TOKEN, timeout=10.0) as client:
        yield client
        await client.delete(f"{afosto_sandbox.url}/__sandbox/faults")


# Orders and channels are hand-modelled: the store keeps them (tests/sandbox/test_afosto_store.py).
@pytest.mark.parametrize(
    ("collection", "created", "changed"),
    [
        ("/cat/groups", {"name": "Retail", "currency": "EUR", "is_including_vat": True}, {"name": "Wholesale"}),
        ("/wms/locations", {"id": "WH-AMS", "name": "Amsterdam"}, {"name": "Amsterdam North"}),
        ("/spl/hubs", {"name": "Hub 1"}, {"name": "Hub 2"}),
        ("/iam/users", {"email": "ann@example.com", "first_name": "Ann"}, {"first_name": "Anne"}),
        ("/rel/organisations", {"name": "Acme Retail"}, {"name": "Acme Retail B.V."}),
    ],
)
async def test_a_created_record_is_read_updated_and_deleted(
    http: httpx.AsyncClient, collection: str, created: dict[str, Any], changed: dict[str, Any]
) -> None:
    made = await http.post(collection, json=created)
    key = made.json()["id"]
    read = await http.get(f"{collection}/{key}")
    if collection == "/wms/locations":  # updated by the body's id, not the path's
        updated = await http.put(collection, json={"id": key, **changed})
    else:
        updated = await http.put(f"{collection}/{key}", json=changed)
    read_again = await http.get(f"{collection}/{key}")
    deleted = await http.delete(f"{collection}/{key}")
    gone = await http.get(f"{collection}/{key}")

    assert made.status_code == 200, made.text
    assert read.status_code == 200
    assert read.json()["id"] == key
    assert {k: read.json()[k] for k in created} == created
    assert updated.status_code == 200, updated.text
    assert {k: read_again.json()[k] for k in changed} == changed
    assert deleted.status_code in (200, 204)
    assert gone.status_code == 404
    assert gone.json()["code"] == 404
    assert set(gone.json()) == {"code", "message", "reference", "errors"}


async def test_a_record_keyed_by_the_client_keeps_its_key(http: httpx.AsyncClient) -> None:
    made = await http.post("/wms/locations", json={"id": "WH-RTM", "name": "Rotterdam"})
    read = await http.get("/wms/locations/WH-RTM")

    assert made.json()["id"] == "WH-RTM"
    assert read.json()["name"] == "Rotterdam"


@pytest.mark.parametrize(
    ("collection", "search", "deletable"),
    [("/rel/organisations", "/rel/search/organisations", True), ("/lcs/locations", "/lcs/search/locations", False)],
)
async def test_a_record_is_its_tenants_alone(
    http: httpx.AsyncClient, afosto_sandbox: Sandbox, collection: str, search: str, deletable: bool
) -> None:
    """Each Afosto tenant (its token's `tenant_id`) has collections of its own: another tenant's
    key is 404 on every verb and in no list or search; a token naming no tenant is neither's."""
    acme = {"Authorization": f"Bearer {afosto_token(afosto_sandbox.settings, 'afosto-acme-' + collection)}"}
    nordic = {"Authorization": f"Bearer {afosto_token(afosto_sandbox.settings, 'afosto-nordic-' + collection)}"}
    secret = {"name": "ACME secret warehouse"}
    made = await http.post(collection, json=secret, headers=acme)
    key = made.json()["id"]
    by_key = {"constraints": [{"key": "ids", "operator": "in", "values": [key]}]}

    read = await http.get(f"{collection}/{key}", headers=nordic)
    renamed = await http.put(f"{collection}/{key}", json={"name": "renamed by nordic"}, headers=nordic)
    deleted = await http.delete(f"{collection}/{key}", headers=nordic) if deletable else read
    listed = await http.get(collection, headers={**nordic, "x-page-size": "1000"})
    searched = await http.post(search, json=by_key, headers={**nordic, "x-page-size": "1000"})
    tokenless = await http.get(f"{collection}/{key}")  # the fixture's token: no tenant's
    theirs = await http.post(collection, json=secret, headers=nordic)  # the same body

    assert made.status_code == 200, made.text
    for refused in (read, renamed, deleted, tokenless):
        assert refused.status_code == 404, refused.text
        assert refused.json()["code"] == 404
    assert listed.status_code == 200
    assert searched.status_code == 200
    assert key not in {r["id"] for r in listed.json()}
    assert searched.json() == []
    assert theirs.json()["id"] != key  # a made-up key is the tenant's own
    own = await http.get(f"{collection}/{key}", headers=acme)
    own_list = await http.get(collection, headers={**acme, "x-page-size": "1000"})
    own_search = await http.post(search, json=by_key, headers={**acme, "x-page-size": "1000"})
    assert own.json()["name"] == "ACME secret warehouse"
    assert {r["id"] for r in own_list.json()} == {key}
    assert [r["id"] for r in own_search.json()] == [key]


async def test_a_client_chosen_key_is_each_tenants_own(http: httpx.AsyncClient, afosto_sandbox: Sandbox) -> None:
    acme = {"Authorization": f"Bearer {afosto_token(afosto_sandbox.settings, 'afosto-acme-keyed')}"}
    nordic = {"Authorization": f"Bearer {afosto_token(afosto_sandbox.settings, 'afosto-nordic-keyed')}"}
    await http.post("/wms/locations", json={"id": "WH-SHARED", "name": "Acme's"}, headers=acme)

    before = await http.get("/wms/locations/WH-SHARED", headers=nordic)
    updated = await http.put("/wms/locations", json={"id": "WH-SHARED", "name": "Nordic's"}, headers=nordic)
    made = await http.post("/wms/locations", json={"id": "WH-SHARED", "name": "Nordic's"}, headers=nordic)

    assert before.status_code == 404
    assert updated.status_code == 404
    assert made.json()["id"] == "WH-SHARED"
    assert (await http.get("/wms/locations/WH-SHARED", headers=nordic)).json()["name"] == "Nordic's"
    assert (await http.get("/wms/locations/WH-SHARED", headers=acme)).json()["name"] == "Acme's"


async def test_a_search_answers_the_records_its_constraints_name(http: httpx.AsyncClient) -> None:
    ids = [(await http.post("/rel/organisations", json={"name": f"S-{n}"})).json()["id"] for n in range(3)]

    found = await http.post(
        "/rel/search/organisations", json={"constraints": [{"key": "ids", "operator": "in", "values": ids[:2]}]}
    )

    assert found.status_code == 200, found.text
    assert sorted(organisation["id"] for organisation in found.json()) == sorted(ids[:2])


async def test_a_search_sends_its_documented_count(http: httpx.AsyncClient) -> None:
    orders = (await http.get("/odr/orders")).json()
    ids = [order["id"] for order in orders[:2]]

    found = await http.post(
        "/odr/search/orders", json={"constraints": [{"key": "ids", "operator": "in", "values": ids}]}
    )

    assert sorted(order["id"] for order in found.json()) == sorted(ids)
    assert found.headers["x-count"] == "2"  # documented, though the search takes no paging headers


async def test_a_list_pages_by_the_paging_headers(http: httpx.AsyncClient) -> None:
    names = {f"Paged {n}" for n in range(5)}
    for name in names:
        await http.post("/cat/channels", json={"name": name, "type": "pos"})
    total = len((await http.get("/cat/channels", headers={"x-page-size": "1000"})).json())

    first = await http.get("/cat/channels", headers={"x-page": "1", "x-page-size": "2"})
    last = await http.get("/cat/channels", headers={"x-page": str((total + 1) // 2), "x-page-size": "2"})
    beyond = await http.get("/cat/channels", headers={"x-page": str(total + 1), "x-page-size": "2"})

    assert total >= 5
    assert len(first.json()) == 2
    assert len(last.json()) == (2 if total % 2 == 0 else 1)
    assert beyond.json() == []


async def test_a_documented_count_and_page_are_sent(http: httpx.AsyncClient) -> None:
    whole = (await http.get("/cat/groups", headers={"x-page-size": "1000"})).json()

    first = await http.get("/cat/groups", headers={"x-page": "1", "x-page-size": "1"})

    assert int(first.headers["x-count"]) == len(whole) >= 2  # GET /cat/groups documents x-count
    derived = await http.get("/int/apps/store", headers={"x-page": "1", "x-page-size": "2"})
    assert len(derived.json()) == 2
    assert derived.headers["x-page"] == "2"  # the next page, while there is one
    after = await http.get("/int/apps/store", headers={"x-page": "2", "x-page-size": "2"})
    assert len(after.json()) == 1
    assert after.headers["x-page"] == "2"


async def test_a_bad_paging_header_is_a_400_naming_it(http: httpx.AsyncClient) -> None:
    refused = await http.get("/cat/groups", headers={"x-page-size": "none"})

    assert refused.status_code == 400
    assert refused.json()["errors"] == {"invalid value": ["x-page-size"]}


async def test_an_asynchronous_operation_answers_a_task_id(http: httpx.AsyncClient) -> None:
    first = await http.post("/odr/orders/some-order/allocate")
    again = await http.post("/odr/orders/some-order/allocate")

    assert first.status_code == 202
    assert first.headers["x-task-id"] == again.headers["x-task-id"]


async def test_a_derived_answer_is_the_same_for_the_same_request(http: httpx.AsyncClient) -> None:
    first = await http.get("/iam/subscriptions")
    again = await http.get("/iam/subscriptions")
    item = await http.get("/wms/inventory/SKU-1")

    assert first.status_code == 200
    assert first.json() == again.json()
    assert item.json()["id"] == "SKU-1"  # the path's id is echoed


async def test_a_call_without_a_bearer_token_is_401(afosto_sandbox: Sandbox) -> None:
    async with httpx.AsyncClient(base_url=f"{afosto_sandbox.url}/afosto") as anonymous:
        refused = await anonymous.get("/cat/groups")
        token = await anonymous.post(
            "/iam/oauth/authorize",
            json={
                "client_id": "c",
                "client_secret": "s",
                "grant_type": "client_credentials",
                "scope": "odr:orders:read",
            },
        )

    assert refused.status_code == 401
    assert refused.json()["code"] == 401
    # The token endpoint takes client credentials instead of a token: these are no client's (401,
    # OAuth's invalid_client, not the 401 of a missing token).
    assert token.status_code == 401
    assert "invalid_client" in token.json()["message"]


async def test_a_body_of_the_wrong_type_is_a_400_naming_the_fields(http: httpx.AsyncClient) -> None:
    refused = await http.post("/cat/groups", json={"name": 5, "currency": "EUR"})
    bodiless = await http.post("/cat/groups")

    assert refused.status_code == 400
    assert refused.json()["errors"] == {"invalid value": ["name"]}
    assert bodiless.status_code == 400
    assert bodiless.json()["errors"] == {"required": ["body"]}


async def test_unknown_paths_and_methods_answer_in_afostos_shape(http: httpx.AsyncClient) -> None:
    unknown = await http.get("/odr/nothing-here")
    wrong = await http.patch("/cat/groups")

    assert unknown.status_code == 404
    assert wrong.status_code == 405
    assert wrong.headers["allow"] == "GET, POST"
    assert wrong.json()["code"] == 405


async def test_faults_and_call_counts_cover_the_afosto_routes(http: httpx.AsyncClient, afosto_sandbox: Sandbox) -> None:
    control = f"{afosto_sandbox.url}/__sandbox"
    await http.delete(f"{control}/calls")
    await http.post(f"{control}/faults", json=["GET /afosto/cat/groups/*=status:503x1"])

    failed = await http.get("/cat/groups/g-1")
    answered = await http.get("/cat/groups/g-1")
    await http.get("/cat/groups/g-2")
    await http.post("/odr/orders", json={"number": "C-1"})
    calls = (await http.get(f"{control}/calls")).json()

    assert failed.status_code == 503
    assert set(failed.json()) == {"code", "message", "reference", "errors"}
    assert answered.status_code == 404  # the fault was spent; no such group
    assert calls["calls"] == {"GET /afosto/cat/groups/{id}": 3, "POST /afosto/odr/orders": 1}


def test_every_operation_is_routed_to_its_own_spec() -> None:
    afosto = Afosto()

    for op in OPERATIONS:
        concrete = op.path.replace("{", "p-").replace("}", "")
        spec, values, _ = afosto.lookup(concrete, op.method)
        assert spec is not None, op.key
        assert spec.op.key == op.key
        assert len(values) == op.path.count("{")


async def test_a_dropped_or_malformed_afosto_call_fails_as_faulted(
    http: httpx.AsyncClient, afosto_sandbox: Sandbox
) -> None:
    control = f"{afosto_sandbox.url}/__sandbox"
    await http.post(f"{control}/faults", json=["POST /afosto/spl/hubs=dropx1", "GET /afosto/iam/users=malformedx1"])

    with pytest.raises(httpx.TransportError):
        await http.post("/spl/hubs", json={"name": "D-1"})
    malformed = await http.get("/iam/users")
    created = await http.post("/spl/hubs", json={"name": "D-2"})

    assert malformed.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        malformed.json()
    assert created.status_code == 200
