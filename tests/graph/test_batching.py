"""A nested list costs one SQL query per entity type, whatever its length."""

from __future__ import annotations

import pytest

from conftest import Api, StatementCounter

NESTED = """
query Nested($first: Int!) {
  products(first: $first) {
    totalCount
    edges { cursor node {
      id name price
      store { id name address { city } }
      owner { id displayName }
      reviews(first: 3) { totalCount nodes { rating reviewer } }
    } }
  }
}
"""


@pytest.mark.parametrize("first", [10, 100])
async def test_nested_list_costs_one_query_per_entity_type(api: Api, count_sql: StatementCounter, first: int) -> None:
    data = await api.data(NESTED, {"first": first})

    products = [e["node"] for e in data["products"]["edges"]]
    assert len(products) == first
    assert all(p["store"]["id"] for p in products)
    # products, stores, users (owners), reviews: four entity types, four statements.
    assert count_sql.count == 4, count_sql.statements


async def test_same_store_is_loaded_once_per_request(api: Api, count_sql: StatementCounter) -> None:
    data = await api.data("{ products(first: 50) { nodes { store { id } } } }")

    store_ids = {p["store"]["id"] for p in data["products"]["nodes"]}
    assert len(store_ids) < 50  # many products share a store...
    select_stores = [s for s in count_sql.statements if "FROM stores" in s]
    assert len(select_stores) == 1  # ...and each store was fetched once, in one batch


async def test_nested_connections_of_many_parents_are_one_windowed_query(api: Api, count_sql: StatementCounter) -> None:
    data = await api.data(
        "{ stores(first: 6) { nodes { id products(first: 2, sortBy: PRICE, sortDirection: DESC) "
        "{ totalCount nodes { price } } } } }"
    )

    stores = data["stores"]["nodes"]
    assert len(stores) == 6
    for store in stores:
        prices = [float(p["price"]) for p in store["products"]["nodes"]]
        assert prices == sorted(prices, reverse=True)
        assert store["products"]["totalCount"] >= len(prices)
    assert count_sql.count == 2, count_sql.statements
