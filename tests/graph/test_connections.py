"""Lists are Relay connections: first/after paging, pageInfo, totalCount and sort options."""

from __future__ import annotations

from conftest import Api

PAGE = """
query($after: String, $dir: SortDirection) {
  products(first: 7, after: $after, sortBy: NAME, sortDirection: $dir) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id name } }
  }
}
"""


async def test_paging_with_after_visits_every_item_once(api: Api) -> None:
    seen: list[str] = []
    after = None
    pages = 0
    while True:
        data = (await api.data(PAGE, {"after": after}))["products"]
        seen += [e["node"]["id"] for e in data["edges"]]
        pages += 1
        assert data["pageInfo"]["hasPreviousPage"] == (after is not None)
        if data["edges"]:
            assert data["pageInfo"]["endCursor"] == data["edges"][-1]["cursor"]
        if not data["pageInfo"]["hasNextPage"]:
            break
        after = data["pageInfo"]["endCursor"]

    assert len(seen) == len(set(seen)) == data["totalCount"]
    assert pages == -(-data["totalCount"] // 7)


async def test_sort_direction_reverses_the_order(api: Api) -> None:
    asc = (await api.data(PAGE, {"dir": "ASC"}))["products"]["edges"]
    desc = (await api.data(PAGE, {"dir": "DESC"}))["products"]["edges"]

    names_asc = [e["node"]["name"] for e in asc]
    names_desc = [e["node"]["name"] for e in desc]
    assert names_asc == sorted(names_asc)
    assert names_desc == sorted(names_desc, reverse=True)
    assert names_asc[0] != names_desc[0]


async def test_numeric_sort_orders_prices_as_numbers(api: Api) -> None:
    data = await api.data("{ products(first: 50, sortBy: PRICE) { nodes { price } } }")

    prices = [float(p["price"]) for p in data["products"]["nodes"]]
    assert prices == sorted(prices)


async def test_first_zero_still_counts(api: Api) -> None:
    data = await api.data("{ products(first: 0) { totalCount nodes { id } pageInfo { hasNextPage } } }")

    assert data["products"]["nodes"] == []
    assert data["products"]["totalCount"] > 0
    assert data["products"]["pageInfo"]["hasNextPage"] is True


async def test_paging_past_the_end_is_empty_with_the_total(api: Api) -> None:
    total = (await api.data("{ products(first: 1) { totalCount } }"))["products"]["totalCount"]
    last = (await api.data("{ products(first: 1000) { edges { cursor } } }"))["products"]["edges"][-1]["cursor"]

    data = await api.data(f'{{ products(first: 5, after: "{last}") {{ totalCount nodes {{ id }} }} }}')

    assert data["products"] == {"totalCount": total, "nodes": []}


async def test_nested_connection_pages_per_parent(api: Api) -> None:
    data = await api.data(
        "{ products(first: 30, sortBy: RATING_COUNT, sortDirection: DESC) { nodes { ratingCount "
        "reviews(first: 2, sortBy: RATING) { totalCount nodes { rating } pageInfo { hasNextPage } } } } }"
    )

    for product in data["products"]["nodes"]:
        reviews = product["reviews"]
        assert reviews["totalCount"] == product["ratingCount"]
        assert len(reviews["nodes"]) == min(2, reviews["totalCount"])
        assert reviews["pageInfo"]["hasNextPage"] == (reviews["totalCount"] > 2)
        ratings = [r["rating"] for r in reviews["nodes"]]
        assert ratings == sorted(ratings)
