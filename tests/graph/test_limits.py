"""Every request is bounded before it runs: documents over the token, length, depth, alias or
directive limits, and operations over the cost limit, are refused with their own code on both the
compiled and the standard path, and nothing reaches the backend. Accepted queries report their
cost in `extensions`."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from graphql import GraphQLInterfaceType, GraphQLObjectType, GraphQLScalarType, get_introspection_query, get_named_type

from facade.graph.compiled import CompiledExecutor
from facade.graph.documents import BYTES_PER_CHARACTER, DocumentCache, Prepared
from facade.graph.inputs import REVIEW_TEXT
from facade.graph.limits import BYTES_PER_UNIT, Limits
from facade.graph.schema import build_schema
from facade.graph.sizes import MAX_CHARS, SCALAR_BYTES, TEXT_SCALARS
from support.chaos import Twins

LIMITS = Limits.from_settings()
# The measured attack of issue 8: 216 bytes, 64.5 MB answered before the limits.
NESTED = (
    "{ stores(first:100){ nodes { products(first:20){ nodes { store { products(first:20) { nodes { store "
    "{ products(first:20) { nodes { store { products(first:20) { nodes { id name } } } } } } } } } } } } } }"
)
# Within the depth limit, but a million products.
NESTED_SHALLOW = (
    "{ stores(first:100){ nodes { products(first:100){ nodes { store { products(first:100) "
    "{ nodes { id name } } } } } } } }"
)
WIDE = "{ products(first: 100) { totalCount nodes { id name store { name } owner { displayName } } } }"
# 2,000 review texts of up to 10,000 characters (80 MB at worst); cost 4,201 when the cost counted
# values, so it was accepted.
REVIEW_TEXTS = "{ products(first: 100) { nodes { reviews(first: 20) { nodes { review } } } } }"


@pytest.fixture(scope="module")
async def twins(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Twins]:
    twins = await Twins.open(tmp_path_factory.mktemp("limits"), 40)
    yield twins
    await twins.aclose()


async def post(client: httpx.AsyncClient, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    response = await client.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def refused(twins: Twins, query: str, code: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    """The error both paths answer; asserts that neither called the backend."""
    before = sum(twins.backend.calls.values())
    answers = [await post(client, query, variables) for client in (twins.compiled, twins.standard)]
    assert answers[0] == answers[1]
    body = answers[0]
    assert "data" not in body, body
    [error] = body["errors"]
    assert error["extensions"]["code"] == code, error
    assert "extensions" not in body
    assert sum(twins.backend.calls.values()) == before, "a refused request reached the backend"
    return error  # type: ignore[no-any-return]


async def test_the_nested_lists_attack_is_refused_before_anything_runs(twins: Twins) -> None:
    assert len(NESTED.encode()) < 220
    error = await refused(twins, NESTED, "MAX_DEPTH_EXCEEDED")
    assert error["extensions"] == {"code": "MAX_DEPTH_EXCEEDED", "depth": 14, "limit": LIMITS.max_depth}


async def test_nested_lists_within_the_depth_limit_are_refused_by_their_cost(twins: Twins) -> None:
    error = await refused(twins, NESTED_SHALLOW, "COST_LIMIT_EXCEEDED")
    # 100 stores x 100 products x (store + 100 products x (id, name)) and the wrappers and lists.
    assert error["extensions"]["cost"] == 3_040_302
    assert error["extensions"]["maximumAvailable"] == LIMITS.max_cost


async def test_two_thousand_aliases_are_refused(twins: Twins) -> None:
    many = "{ " + " ".join(f"p{i}: products(first: {i % 1000}) {{ totalCount }}" for i in range(2000)) + " }"
    await refused(twins, many, "MAX_TOKENS_EXCEEDED")
    over = LIMITS.max_aliases + 1
    few = "{ " + " ".join(f"p{i}: products(first: {i}) {{ totalCount }}" for i in range(over)) + " }"
    error = await refused(twins, few, "MAX_ALIASES_EXCEEDED")
    assert error["extensions"]["aliases"] == over


async def test_fifty_aliased_logins_try_no_password(twins: Twins) -> None:
    logins = " ".join(f'a{i}: login(username: "bob", password: "guess-{i}") {{ token }}' for i in range(50))
    error = await refused(twins, "mutation { " + logins + " }", "MAX_ALIASES_EXCEEDED")
    assert error["extensions"]["aliases"] == 50


async def test_aliases_in_a_fragment_count_wherever_it_is_spread(twins: Twins) -> None:
    query = (
        "{ products(first: 1) { nodes { ...A } } } "
        "fragment A on Product { ...B ...B ...B ...B } "
        "fragment B on Product { a: name b: name c: name d: name e: name f: name g: name h: name }"
    )
    error = await refused(twins, query, "MAX_ALIASES_EXCEEDED")
    assert error["extensions"]["aliases"] == 32


async def test_one_field_selected_hundreds_of_times_is_refused_before_validation(twins: Twins) -> None:
    """`store { id }` 490 times is 1,973 tokens, and validation compares every pair (2 s)."""
    over = LIMITS.max_repeated_fields + 1
    error = await refused(
        twins, "{ products(first: 1) { nodes { " + "store { id } " * 490 + "} } }", "MAX_REPEATED_FIELDS_EXCEEDED"
    )
    assert error["extensions"]["repeated_fields"] == 490
    # Through fragments too: each selects `store` at the same level.
    fragments = " ".join(f"fragment F{i} on Product {{ store {{ id }} }}" for i in range(over))
    spreads = " ".join(f"...F{i}" for i in range(over))
    query = "{ products(first: 1) { nodes { " + spreads + " } } } " + fragments
    await refused(twins, query, "MAX_REPEATED_FIELDS_EXCEEDED")
    # A fragment spread twice in one selection is gathered once.
    twice = "{ products(first: 1) { nodes { ...A ...A } } } fragment A on Product { " + "id " * 12 + "}"
    assert "errors" not in await post(twins.compiled, twice)


async def test_a_fragment_cycle_is_a_validation_error(twins: Twins) -> None:
    query = "{ products { nodes { ...A } } } fragment A on Product { store { products { nodes { ...A } } } }"
    error = await refused(twins, query, "GRAPHQL_VALIDATION_FAILED")
    assert "A" in error["message"]


async def test_too_many_directives_are_refused(twins: Twins) -> None:
    query = "{ " + " ".join("__typename @include(if: true)" for _ in range(51)) + " }"
    await refused(twins, query, "MAX_DIRECTIVES_EXCEEDED")


async def test_a_document_past_the_token_limit_is_refused_while_it_is_read(twins: Twins) -> None:
    padded = "{ __typename }\n" + "# a comment is a token too\n" * LIMITS.max_tokens
    error = await refused(twins, padded, "MAX_TOKENS_EXCEEDED")
    assert error["extensions"]["limit"] == LIMITS.max_tokens


async def test_a_long_document_is_refused_unread(twins: Twins) -> None:
    long = "{ " + "id " * (LIMITS.max_document_length // 3 + 1) + "}"
    await refused(twins, long, "MAX_DOCUMENT_LENGTH_EXCEEDED")


def test_ten_megabytes_of_repeated_fields_are_refused_unparsed() -> None:
    cache = DocumentCache(build_schema()._schema, LIMITS, 10_000_000)
    # Within the length limit, the parser stops at the first token past the limit.
    roomy = DocumentCache(cache.schema, dataclasses.replace(LIMITS, max_document_length=11_000_000), 10_000_000)
    document = "{ products { nodes { " + "id " * 3_500_000 + "} } }"
    assert len(document) > 10_000_000
    assert cache.prepare(document).errors[0].extensions["code"] == "MAX_DOCUMENT_LENGTH_EXCEEDED"
    assert roomy.prepare(document).errors[0].extensions["code"] == "MAX_TOKENS_EXCEEDED"


async def test_a_wide_legal_query_runs_and_reports_its_cost(twins: Twins) -> None:
    compiled_before = twins.executor.counts["compiled"]
    answers = [await post(client, WIDE) for client in (twins.compiled, twins.standard)]
    assert answers[0] == answers[1]
    body = answers[0]
    assert "errors" not in body
    assert len(body["data"]["products"]["nodes"]) == 40
    # products, totalCount, nodes, and per product: itself, id, name, store and its name, owner
    # and its name, each under 1 kB.
    assert body["extensions"] == {"cost": {"requestedQueryCost": 3 + 100 * 7, "maximumAvailable": LIMITS.max_cost}}
    assert twins.executor.counts["compiled"] == compiled_before + 1


async def test_a_query_of_long_texts_is_refused_by_its_bytes(twins: Twins) -> None:
    error = await refused(twins, REVIEW_TEXTS, "COST_LIMIT_EXCEEDED")
    # products, nodes, and per product: itself, reviews, nodes, and 20 texts of 41 kB each.
    assert error["extensions"]["cost"] == 2 + 100 * (3 + 20 * (1 + 41))
    assert error["extensions"]["cost"] * BYTES_PER_UNIT >= 100 * 20 * 4 * 10_000


async def test_the_cost_bounds_the_bytes_of_the_longest_review(twins: Twins) -> None:
    token = await twins.api.login("alice")
    product = (await post(twins.compiled, "{ products(first: 1) { nodes { id } } }"))["data"]["products"]["nodes"][0]
    longest = "\U0001f600" * REVIEW_TEXT.max_length  # 4 bytes each in UTF-8
    posted = await twins.post(
        twins.compiled,
        "mutation($p: ID!, $r: String!) { postReview(productId: $p, review: $r, rating: 5) { id } }",
        {"p": product["id"], "r": longest},
        token=token,
    )
    assert "errors" not in posted.json(), posted.text
    query = (
        "query($p: ID!) { product(id: $p) { reviews(first: 1, sortBy: CREATED_AT, sortDirection: DESC) "
        "{ nodes { review } } } }"
    )
    for client in (twins.compiled, twins.standard):
        response = await twins.post(client, query, {"p": product["id"]})
        body = response.json()
        assert body["data"]["product"]["reviews"]["nodes"] == [{"review": longest}]
        data = orjson.dumps(body["data"])
        assert len(data) > 40_000
        assert len(data) <= body["extensions"]["cost"]["requestedQueryCost"] * BYTES_PER_UNIT


def test_every_text_field_declares_its_longest_value() -> None:
    """A String, ID or JSON field of the schema that graph/sizes.py does not know would be
    counted at a guess; every other leaf has a size fixed by its type."""
    schema = build_schema()._schema
    missing, stale = [], []
    for type_ in schema.type_map.values():
        if type_.name.startswith("__") or not isinstance(type_, GraphQLObjectType | GraphQLInterfaceType):
            continue
        declared = MAX_CHARS.get(type_.name, {})
        stale += [f"{type_.name}.{name}" for name in declared if name not in type_.fields]
        for name, field in type_.fields.items():
            leaf = get_named_type(field.type)
            if isinstance(leaf, GraphQLScalarType) and leaf.name in TEXT_SCALARS and name not in declared:
                missing.append(f"{type_.name}.{name}")
            elif isinstance(leaf, GraphQLScalarType) and leaf.name not in TEXT_SCALARS:
                assert leaf.name in SCALAR_BYTES, f"{type_.name}.{name}: a {leaf.name} has no size in graph/sizes.py"
    stale += [
        name
        for name in MAX_CHARS
        if not isinstance(schema.type_map.get(name), GraphQLObjectType | GraphQLInterfaceType)
    ]
    assert not missing, f"declare the longest value of {missing} in graph/sizes.py MAX_CHARS"
    assert not stale, f"{stale} are in graph/sizes.py MAX_CHARS but not in the schema"
    assert MAX_CHARS["Review"]["review"] == REVIEW_TEXT.max_length


async def test_the_cost_follows_the_variables(twins: Twins) -> None:
    query = "query($n: Int, $more: Boolean = false) " + (
        "{ products(first: $n) { nodes { id owner @include(if: $more) { id } } } }"
    )
    costs = (
        ({"n": 10}, 2 + 10 * 2),
        ({}, 2 + LIMITS.default_page_size * 2),
        ({"n": 10, "more": True}, 2 + 10 * 4),
        ({"n": 5000}, 2 + LIMITS.max_page_size * 2),  # beyond the largest page: refused by the field itself
    )
    # Each set of values again, in another order: a cost remembered for one set is not another's.
    for variables, cost in (*costs, *reversed(costs), *costs):
        body = await post(twins.compiled, query, variables)
        assert body["extensions"]["cost"]["requestedQueryCost"] == cost, variables
    skipped = (
        "query($deep: Boolean!) { stores(first: 100) { nodes { products(first: 100) @include(if: $deep) "
        "{ nodes { store { products(first: 100) { nodes { id } } } } } } } }"
    )
    assert (await post(twins.compiled, skipped, {"deep": False}))["data"]["stores"]["nodes"]
    for _ in range(2):  # and again, its cost remembered
        await refused(twins, skipped, "COST_LIMIT_EXCEEDED", {"deep": True})


async def test_graphiql_introspection_is_within_the_limits(twins: Twins) -> None:
    body = await post(twins.compiled, get_introspection_query(descriptions=True, specified_by_url=True))
    assert "errors" not in body
    assert body["data"]["__schema"]["queryType"]["name"] == "Query"


def test_the_document_cache_is_bounded_in_bytes() -> None:
    budget = 20 * 1_040 * BYTES_PER_CHARACTER
    cache = DocumentCache(build_schema()._schema, LIMITS, budget)
    for i in range(100):
        query = "{ products { nodes { id } } }" + f"# {i:04}" + " " * 1000
        assert cache.prepare(query).valid
    assert cache.entries.currsize <= budget
    assert 10 <= len(cache.entries) <= 20


def test_plans_are_bounded_in_bytes() -> None:
    budget = 20 * 1_050 * BYTES_PER_CHARACTER
    executor = CompiledExecutor(build_schema(), max_plan_bytes=budget)
    for i in range(100):
        query = "{ products(first: 1) { nodes { id } } }" + f"# {i:04}" + " " * 1000
        assert executor.prepare(query, None, None) is not None
    assert executor.plans.currsize <= budget
    assert 10 <= len(executor.plans) <= 20


async def test_a_new_document_is_prepared_off_the_event_loop(tmp_path: Path) -> None:
    """While a document is being prepared, the loop still answers requests with known ones."""
    release = threading.Event()

    class Slow(DocumentCache):
        def _make(self, query: str) -> Prepared:
            if "slow" in query:
                release.wait(10)
            return super()._make(query)

    cache = Slow(build_schema()._schema, LIMITS, 10_000_000)
    known = await cache.aprepare("{ products { totalCount } }")
    slow = asyncio.ensure_future(cache.aprepare("query slow { products { totalCount } }"))
    await asyncio.sleep(0)
    # Two requests wait for a document queued behind the slow one; the first gives up.
    queued = "query slowToo { products { totalCount } }"
    gives_up, waits = asyncio.ensure_future(cache.aprepare(queued)), asyncio.ensure_future(cache.aprepare(queued))
    await asyncio.sleep(0)
    assert await cache.aprepare("{ products { totalCount } }") is known
    assert not slow.done()
    gives_up.cancel()
    release.set()
    assert (await slow).valid
    assert (await waits).valid
