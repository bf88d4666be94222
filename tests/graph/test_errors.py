"""Bad input gets a clear error with a stable code and writes nothing; unexpected failures are
masked, with no stack trace or SQL reaching the client."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest
from graphql import FieldNode, GraphQLError, SourceLocation, parse, visit
from graphql.language import Visitor

from conftest import Api, make_settings, open_api
from facade.app import create_app
from facade.graph.extensions import in_response_order


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ('{ product(id: "abc") { id } }', "BAD_USER_INPUT"),
        ('{ product(id: "999999") { id } }', "NOT_FOUND"),
        ('{ store(id: "-3") { id } }', "BAD_USER_INPUT"),
        ('{ storeByUid(uid: "no such/store") { id } }', "BAD_USER_INPUT"),
        ('{ storeByUid(uid: "no-such-store") { id } }', "NOT_FOUND"),
        ("{ products(first: -1) { totalCount } }", "BAD_USER_INPUT"),
        ("{ products(first: 100000) { totalCount } }", "BAD_USER_INPUT"),
        ('{ products(after: "bm90IGEgY3Vyc29y") { totalCount } }', "BAD_USER_INPUT"),
        ("{ products(sortBy: PRIZE) { totalCount } }", "GRAPHQL_VALIDATION_FAILED"),
        ('{ validateLicense(sessionId: "not-a-uuid") { isValid } }', "BAD_USER_INPUT"),
        ("{ validateLicense { isValid } }", "BAD_USER_INPUT"),
        (
            '{ appManifest(app: "x", version: "1", manifestVersion: "3.0", '
            'sessionId: "00000000-0000-4000-8000-000000000000") { app } }',
            "BAD_USER_INPUT",
        ),
    ],
)
async def test_bad_input_has_a_stable_code(api: Api, query: str, code: str) -> None:
    error = await api.error(query)

    assert error["extensions"]["code"] == code, error
    assert "Traceback" not in error["message"]


async def test_variable_of_wrong_type_is_bad_user_input(api: Api) -> None:
    error = await api.error("query($n: Int) { products(first: $n) { totalCount } }", {"n": "ten"})

    assert error["extensions"]["code"] == "BAD_USER_INPUT"


async def test_field_error_keeps_the_rest_of_the_response(api: Api) -> None:
    body = await api.post('{ products(first: 1) { totalCount } viewer { login } product(id: "0") { id } }')

    assert body["data"]["products"]["totalCount"] > 0
    codes = sorted(e["extensions"]["code"] for e in body["errors"])
    assert codes == ["BAD_USER_INPUT", "UNAUTHENTICATED"]


async def test_rejected_review_writes_nothing(fresh_api: Api) -> None:
    token = await fresh_api.login("alice")
    before = await fresh_api.data('{ product(id: "1") { ratingCount reviews { totalCount } } }')

    for rating in (0, 6, -1):
        error = await fresh_api.error(
            'mutation($r: Int!) { postReview(productId: "1", review: "ok", rating: $r) { id } }',
            {"r": rating},
            token=token,
        )
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
    blank = await fresh_api.error(
        'mutation { postReview(productId: "1", review: "  ", rating: 4) { id } }', token=token
    )
    assert blank["extensions"]["code"] == "BAD_USER_INPUT"

    after = await fresh_api.data('{ product(id: "1") { ratingCount reviews { totalCount } } }')
    assert after == before


async def test_future_manufacture_date_writes_nothing(fresh_api: Api) -> None:
    token = await fresh_api.login("alice")
    count = "{ viewer { devices { totalCount } } }"
    before = await fresh_api.data(count, token=token)

    error = await fresh_api.error(
        'mutation { registerDeviceLicense(manufacturer: {id: 7, name: "Acme"}, model: "IPC-1", '
        'serialNumber: "SN-FUTURE-1", manufactureDate: "2999-01-01") { id } }',
        token=token,
    )

    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert await fresh_api.data(count, token=token) == before


class _BrokenProducts:
    """Fails the way a bug would: an exception whose text must not reach the client."""

    def __init__(self, real: Any) -> None:
        self._real = real

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    async def page_all(self, *args: Any) -> Any:
        raise RuntimeError("SELECT password_hash FROM users -- connection string postgres://admin:s3cret@db")


class _BrokenBackend:
    """The backend (either mode), each request's products broken."""

    def __init__(self, real: Any) -> None:
        self._real = real
        self.products = _BrokenProducts(real.products)

    def bind(self, *args: Any) -> _BrokenBackend:
        return _BrokenBackend(self._real.bind(*args))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


async def test_unexpected_errors_are_masked_and_logged(tmp_path: Any, caplog: pytest.LogCaptureFixture) -> None:
    api, _ = await open_api(make_settings(tmp_path), products=10)
    app = create_app(api.settings, backend=_BrokenBackend(api.store))
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://facade.test")
    try:
        with caplog.at_level(logging.ERROR, logger="facade.graph"):
            body = await Api(client=client, store=api.store, settings=api.settings).post(
                "{ products { totalCount } stores(first: 1) { totalCount } }"
            )
    finally:
        await client.aclose()
        await api.client.aclose()
        await api.store.aclose()

    error = body["errors"][0]
    assert error["message"] == "Internal server error."
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR"}
    assert "s3cret" not in str(body)
    assert "SELECT" not in str(body)
    assert body["data"]["stores"]["totalCount"] > 0  # the rest of the request still answered
    assert "RuntimeError" in caplog.text  # the server log keeps what the client does not see


def test_errors_are_sorted_by_where_they_point_in_the_response() -> None:
    # A unit test of the ordering alone, for the paths a request rarely produces in one response:
    # an error below a null its non-null field propagated, and two errors at one field.
    def error(message: str, path: list[Any] | None, line: int = 1) -> GraphQLError:
        made = GraphQLError(message, path=path)
        made.locations = [SourceLocation(line, 1)]
        return made

    data = {"b": [{"x": None, "y": 1}, None], "a": None}
    errors = [
        error("a", ["a"]),
        error("below a null, later field", ["b", 1, "y"], line=3),
        error("below a null, earlier field", ["b", 1, "x"], line=2),
        error("b0x", ["b", 0, "x"]),
        error("no path", None),
    ]

    ordered = [e.message for e in in_response_order(errors, data)]

    assert ordered == ["no path", "b0x", "below a null, earlier field", "below a null, later field", "a"]
    assert [e.message for e in in_response_order(errors[::-1], data)] == ordered


def test_errors_below_a_nulled_list_come_in_item_order_and_fields_in_document_order() -> None:
    # A non-null field failed in item 29 and nulled the list: the other errors under it are gone
    # from `data` but for their paths, and must still come by item (29 after 2, 11 after 2, not
    # by text) and, within an item, by the document's order of fields, a fragment's spread where
    # it stands (found by a tester: item 29's error first, then 1, 11, 12, ..., 2).
    document = parse(
        "query Cards { products(first: 30) { nodes { ...Card ratingCount } } } "
        "fragment Card on Product { sourceId store { tenant { name } } }"
    )
    nodes: dict[str, FieldNode] = {}

    class Fields(Visitor):
        def enter_field(self, node: FieldNode, *_: Any) -> None:
            nodes.setdefault(node.name.value, node)

    visit(document, Fields())

    def error(path: list[Any], field: str) -> GraphQLError:
        return GraphQLError(field, nodes=[nodes[field]], path=path)

    items = [1, 2, 4, 5, 7, 8, 11, 12, 14, 21, 28]
    errors = [error(["products", "nodes", 29, "ratingCount"], "ratingCount")]
    errors += [error(["products", "nodes", i, "store", "tenant"], "tenant") for i in items]
    errors.append(error(["products", "nodes", 11, "ratingCount"], "ratingCount"))
    data = {"products": None}

    ordered = [(e.path[2], e.message) for e in in_response_order(errors, data, document, "Cards")]

    expected = sorted((i, "tenant") for i in items) + [(29, "ratingCount")]
    expected.insert(expected.index((11, "tenant")) + 1, (11, "ratingCount"))
    assert ordered == expected
