"""Embedded edges: a product that carries its store as the source embedded it (a FLECS product
list's productStore) answers `store` from it, with no store read, when the selection reads only
what that record truthfully holds; any other selection loads the store as ever. Both execution
paths decide alike (the compiled and the standard app, byte for byte).

Local products carry no embedded store, so the local-mode tests embed one themselves (a wrapper
over the backend's product list, with a store name no read would give); in upstream mode the
FLECS client embeds the store of every listed product (backends/upstream/flecs/payloads.py).
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from conftest import SEED_PRODUCTS, mode
from facade.models import Page, Product
from support.chaos import Twins

EMBEDDED = " (as embedded)"


@pytest.fixture(scope="module")
async def twins(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Twins]:
    twins = await Twins.open(tmp_path_factory.mktemp("embedded"), SEED_PRODUCTS)
    yield twins
    await twins.aclose()


@pytest.fixture
def embedding(twins: Twins) -> Any:
    """Products listed with an embedded store (named apart, so an answer shows where it came from)."""
    products = twins.backend.products
    listed = products.page_all

    async def page_all(*args: Any, **kwargs: Any) -> Page[Product]:
        page = await listed(*args, **kwargs)
        stores = await twins.backend.inner.stores.get_many(list({p.store_id for p in page.items}))
        items = [
            p.model_copy(
                update={
                    "embedded_store": stores[p.store_id].model_copy(update={"name": stores[p.store_id].name + EMBEDDED})
                }
            )
            for p in page.items
        ]
        return dataclasses.replace(page, items=items)

    products.page_all = page_all
    yield
    del products.page_all


async def both(twins: Twins, query: str) -> tuple[dict[str, Any], list[int]]:
    """The body (the same from both apps) and the store reads each app made."""
    bodies, reads = [], []
    for client in (twins.compiled, twins.standard):
        before = twins.backend.calls["stores.get_many"]
        response = await twins.post(client, query)
        reads.append(twins.backend.calls["stores.get_many"] - before)
        bodies.append(response.content)
    assert bodies[0] == bodies[1]
    return orjson.loads(bodies[0]), reads


@pytest.mark.usefixtures("embedding")
async def test_a_store_selection_the_embedded_record_covers_is_answered_without_a_store_read(twins: Twins) -> None:
    query = """
    { products(first: 3) { nodes { id store { id name ...Shop address { city } __typename } } } }
    fragment Shop on Store { shopName url }
    """

    body, reads = await both(twins, query)

    stores = [n["store"] for n in body["data"]["products"]["nodes"]]
    assert stores
    assert all(s["name"].endswith(EMBEDDED) for s in stores)
    assert reads == [0, 0]


@pytest.mark.usefixtures("embedding")
@pytest.mark.parametrize("field", ["uid", "createdAt", "tenant { sourceId }", "products(first: 1) { totalCount }"])
async def test_a_store_selection_reading_what_the_embedded_record_lacks_reads_the_store(
    twins: Twins, field: str
) -> None:
    body, reads = await both(twins, f"{{ products(first: 3) {{ nodes {{ store {{ name {field} }} }} }} }}")

    stores = [n["store"] for n in body["data"]["products"]["nodes"]]
    assert stores
    assert not any(s["name"].endswith(EMBEDDED) for s in stores)
    assert reads == [1, 1]


@pytest.mark.skipif(mode() != "upstream", reason="FLECS product lists embed their store in upstream mode only")
async def test_upstream_product_lists_answer_their_stores_without_reading_them(twins: Twins) -> None:
    body, reads = await both(twins, "{ products(first: 5) { nodes { store { id name } } } }")
    assert all(n["store"]["name"] for n in body["data"]["products"]["nodes"])
    assert reads == [0, 0]

    body, reads = await both(twins, "{ products(first: 5) { nodes { store { name tenant { sourceId } } } } }")
    assert reads == [1, 1]
