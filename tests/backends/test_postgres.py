"""The local store on PostgreSQL, for instances that share one store: the same graph, the same
batching. Runs where FACADE_TEST_POSTGRES_URL names a reachable server (CI starts one) and skips
with the reason elsewhere. `FACADE_TEST_STORE=postgres scripts/test tests/graph` runs the whole
GraphQL suite on PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import event

from conftest import Api, StatementCounter, make_settings, open_api
from facade.backends.local.base import engines

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
async def pg_api(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Api]:
    api, _ = await open_api(make_settings(Path(tmp_path_factory.mktemp("pg"))), products=150, database="postgres")
    assert api.store.engine.dialect.name == "postgresql"
    yield api
    await api.client.aclose()
    await api.store.aclose()


async def test_nested_list_is_one_query_per_entity_type_on_postgres(pg_api: Api) -> None:
    counter = StatementCounter()
    for each in engines(pg_api.store.engine):
        event.listen(each, "before_cursor_execute", counter)
    try:
        data = await pg_api.data(
            "{ products(first: 100) { totalCount nodes { store { name } owner { displayName } "
            "reviews(first: 3) { totalCount nodes { rating } } } } }"
        )
    finally:
        for each in engines(pg_api.store.engine):
            event.remove(each, "before_cursor_execute", counter)

    assert data["products"]["totalCount"] == 150
    assert len(data["products"]["nodes"]) == 100
    assert counter.count == 4, counter.statements


async def test_sorting_and_paging_agree_with_sqlite(pg_api: Api, api: Api) -> None:
    query = '{ products(first: 10, after: "%s", sortBy: PRICE, sortDirection: DESC) { nodes { price } } }'
    from facade.models import encode_cursor

    for db in (pg_api, api):
        prices = [float(p["price"]) for p in (await db.data(query % encode_cursor(4)))["products"]["nodes"]]
        assert prices == sorted(prices, reverse=True)
        assert len(prices) == 10


async def test_sign_in_review_and_device_lifecycle_on_postgres(pg_api: Api) -> None:
    token = await pg_api.login("alice")
    review = await pg_api.data(
        'mutation { postReview(productId: "3", review: "Runs on our IPCs", rating: 5) '
        "{ rating product { ratingCount } } }",
        token=token,
    )
    assert review["postReview"]["rating"] == 5

    store_uid = (
        await pg_api.data(
            '{ tenant(tenantUid: "acme-retail") { stores(first: 1) { nodes { uid } } } }',
            token=token,
        )
    )["tenant"]["stores"]["nodes"][0]["uid"]
    created = await pg_api.data(
        'mutation($s: String!) { createDevice(tenantUid: "acme-retail", storeUid: $s, appType: CLIENT, '
        'name: "PG till") { id status deviceCode } }',
        {"s": store_uid},
        token=token,
    )
    device = created["createDevice"]
    assert device["status"] == "READY_TO_LINK"
    assert device["deviceCode"]

    linked = await pg_api.data(
        'mutation($c: String!) { linkDevice(deviceCode: $c, appId: "flow-retail-client", userCode: "1001", '
        'password: "facade-demo", systemInformation: "Linux pos 6.1") { deviceToken device { status } } }',
        {"c": device["deviceCode"]},
    )
    assert linked["linkDevice"]["device"]["status"] == "ACTIVE"

    register = (
        'mutation { registerDeviceLicense(manufacturer: {id: 1, name: "Acme"}, model: "IPC-9", serialNumber: "PG-1", '
        'manufactureDate: "2025-01-01") { serialNumber license { key } } }'
    )
    first = await pg_api.data(register, token=token)
    assert first["registerDeviceLicense"]["license"]["key"]
    count = "{ viewer { devices { totalCount } } }"
    before = await pg_api.data(count, token=token)

    duplicate = await pg_api.error(register, token=token)

    assert duplicate["extensions"]["code"] == "BAD_USER_INPUT"
    assert await pg_api.data(count, token=token) == before
