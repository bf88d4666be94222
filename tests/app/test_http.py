"""GraphQL over HTTP as clients speak it: POST and GET, the two response media types, and the
GraphiQL page with its assets. The status codes follow the GraphQL-over-HTTP spec as the
graphql-http audit checks it (tests/app/test_http_server.py runs that audit)."""

from __future__ import annotations

import gzip
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import Api, make_settings, open_api
from facade.app import create_app
from support.asgi import hang_up

QUERY = "{ products(first: 2) { totalCount nodes { id name } } }"


async def test_post_json_answers_json(api: Api) -> None:
    response = await api.client.post("/graphql", json={"query": QUERY})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert len(response.json()["data"]["products"]["nodes"]) == 2


async def test_graphql_response_json_is_used_when_accepted(api: Api) -> None:
    response = await api.client.post(
        "/graphql",
        json={"query": QUERY},
        headers={"Accept": "application/graphql-response+json, application/json;q=0.9"},
    )

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/graphql-response+json")
    assert response.json()["data"]["products"]["totalCount"] > 0


async def test_invalid_document_is_400_with_graphql_response_json(api: Api) -> None:
    response = await api.client.post(
        "/graphql",
        json={"query": "{ products { nope } }"},
        headers={"Accept": "application/graphql-response+json"},
    )

    assert response.status_code == 400
    body = response.json()
    assert "data" not in body
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_invalid_document_is_200_with_legacy_json(api: Api) -> None:
    response = await api.client.post("/graphql", json={"query": "{ products { nope } }"})

    assert response.status_code == 200
    assert response.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_syntax_error_has_parse_code(api: Api) -> None:
    error = await api.error("{ products(first: ) }")

    assert error["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"


async def test_get_runs_queries(api: Api) -> None:
    response = await api.client.get(
        "/graphql",
        params={
            "query": "query($n: Int) { products(first: $n) { nodes { id } } }",
            "variables": json.dumps({"n": 3}),
        },
    )

    assert response.status_code == 200
    assert len(response.json()["data"]["products"]["nodes"]) == 3


async def test_get_refuses_mutations(api: Api) -> None:
    response = await api.client.get(
        "/graphql",
        params={"query": 'mutation { login(username: "alice", password: "x") { token } }'},
    )

    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert "data" not in response.json()
    assert "POST" in response.json()["errors"][0]["message"]
    assert response.json()["errors"][0]["extensions"]["code"] == "METHOD_NOT_ALLOWED"


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        (b"{not json", "application/json", 400, "BAD_REQUEST"),
        (b"", "application/json", 400, "BAD_REQUEST"),
        (b'["a"]', "application/json", 400, "BAD_REQUEST"),
        (b'{"qeury": "{ __typename }"}', "application/json", 400, "BAD_REQUEST"),
        (b'{"query": 42}', "application/json", 400, "BAD_REQUEST"),
        (b'{"query": "{ __typename }", "variables": "x"}', "application/json", 400, "BAD_REQUEST"),
        (b'{"query": "{ __typename }", "extensions": [1]}', "application/json", 400, "BAD_REQUEST"),
        (b'{"query": "{ __typename }", "operationName": 7}', "application/json", 400, "BAD_REQUEST"),
        (b"\xff{ __typename }", "application/graphql", 400, "BAD_REQUEST"),
        (b"query=x", "application/x-www-form-urlencoded", 415, "UNSUPPORTED_MEDIA_TYPE"),
        (b'{"query": "{ __typename }"}', "application/json; charset=latin-1", 415, "UNSUPPORTED_MEDIA_TYPE"),
    ],
)
async def test_malformed_requests_are_client_errors(
    api: Api, body: bytes, content_type: str, status: int, code: str
) -> None:
    response = await api.client.post("/graphql", content=body, headers={"Content-Type": content_type})

    assert response.status_code == status
    assert response.json()["errors"][0]["message"]
    assert response.json()["errors"][0]["extensions"]["code"] == code
    assert "data" not in response.json()


async def test_compressed_body_is_415(api: Api) -> None:
    response = await api.client.post(
        "/graphql",
        content=gzip.compress(b'{"query": "{ __typename }"}'),
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
    )

    assert response.status_code == 415
    assert response.json()["errors"][0]["extensions"]["code"] == "UNSUPPORTED_MEDIA_TYPE"


async def test_get_parameter_given_twice_is_400(api: Api) -> None:
    response = await api.client.get(
        "/graphql",
        params=[("query", "{ __typename }"), ("query", 'mutation { login(username: "a", password: "b") { token } }')],
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_post_without_content_type_is_refused_unexecuted(api: Api) -> None:
    response = await api.client.post("/graphql", content=b'{"query": "{ __typename }"}')

    assert response.status_code == 415
    assert response.json()["errors"][0]["extensions"]["code"] == "UNSUPPORTED_MEDIA_TYPE"
    assert "data" not in response.json()


GRAPHQL_RESPONSE_JSON = {"Accept": "application/graphql-response+json"}
APPLICATION_JSON = {"Accept": "application/json"}


@pytest.mark.parametrize(
    ("accept", "status"),
    [(APPLICATION_JSON, 200), ({}, 200), (GRAPHQL_RESPONSE_JSON, 400)],
    ids=["application/json", "no Accept", "graphql-response+json"],
)
@pytest.mark.parametrize(
    ("request_body", "code"),
    [
        ({"query": ""}, "GRAPHQL_PARSE_FAILED"),
        ({"query": "{"}, "GRAPHQL_PARSE_FAILED"),
        ({"query": "{ nope }"}, "GRAPHQL_VALIDATION_FAILED"),
        ({"query": "query($id: ID!) { product(id: $id) { id } }", "variables": {"id": None}}, "BAD_USER_INPUT"),
        ({"query": "{ __typename }", "operationName": "nope"}, "OPERATION_RESOLUTION_FAILURE"),
        ({"query": "{ nope }", "operationName": "nope"}, "OPERATION_RESOLUTION_FAILURE"),
        ({"query": "query A { __typename } query B { __typename }"}, "OPERATION_RESOLUTION_FAILURE"),
    ],
    ids=["empty", "syntax", "validation", "variables", "unknown operation", "unknown and invalid", "ambiguous"],
)
async def test_request_errors_are_200_under_json_and_400_under_graphql_response_json(
    api: Api, accept: dict[str, str], status: int, request_body: dict[str, Any], code: str
) -> None:
    response = await api.client.post("/graphql", json=request_body, headers=accept)

    assert response.status_code == status
    assert response.headers["content-type"].startswith(accept.get("Accept", "application/json"))
    body = response.json()
    assert "data" not in body
    assert body["errors"][0]["extensions"]["code"] == code


async def test_named_operation_of_several_runs_only_that_one(api: Api) -> None:
    response = await api.client.post(
        "/graphql",
        json={"query": "query A { a: __typename } query B { b: __typename }", "operationName": "B"},
    )

    assert response.json() == {
        "data": {"b": "Query"},
        "extensions": {"cost": {"requestedQueryCost": 1, "maximumAvailable": 50000}},
    }


async def test_several_operations_without_a_name_write_nothing(fresh_api: Api) -> None:
    token = await fresh_api.login("alice")
    reviews = '{ product(id: "1") { reviews { totalCount } } }'
    before = (await fresh_api.data(reviews))["product"]["reviews"]["totalCount"]
    document = (
        'mutation Write { postReview(productId: "1", review: "Should not be written.", rating: 5) { id } }\n'
        "query Read { __typename }"
    )

    for accept in (APPLICATION_JSON, GRAPHQL_RESPONSE_JSON):
        response = await fresh_api.client.post(
            "/graphql", json={"query": document}, headers={**accept, "Authorization": f"Bearer {token}"}
        )
        assert response.json()["errors"][0]["extensions"]["code"] == "OPERATION_RESOLUTION_FAILURE"
        assert "data" not in response.json()

    assert (await fresh_api.data(reviews))["product"]["reviews"]["totalCount"] == before


async def test_get_with_several_operations_and_no_name_runs_none(api: Api) -> None:
    response = await api.client.get(
        "/graphql", params={"query": "query A { __typename } mutation B { __typename }"}, headers=GRAPHQL_RESPONSE_JSON
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "OPERATION_RESOLUTION_FAILURE"


async def test_get_mutation_named_by_operation_name_is_405(api: Api) -> None:
    response = await api.client.get(
        "/graphql",
        params={"query": "query A { __typename } mutation B { __typename }", "operationName": "B"},
    )

    assert response.status_code == 405
    assert response.json()["errors"][0]["extensions"]["code"] == "METHOD_NOT_ALLOWED"


async def test_get_empty_optional_parameters_count_as_absent(api: Api) -> None:
    response = await api.client.get(
        "/graphql", params={"query": "{ __typename }", "operationName": "", "variables": "", "extensions": ""}
    )

    assert response.status_code == 200
    assert response.json() == {
        "data": {"__typename": "Query"},
        "extensions": {"cost": {"requestedQueryCost": 1, "maximumAvailable": 50000}},
    }


async def test_null_optional_parameters_count_as_absent(api: Api) -> None:
    response = await api.client.post(
        "/graphql",
        json={"query": "{ __typename }", "operationName": None, "variables": None, "extensions": None},
        headers=GRAPHQL_RESPONSE_JSON,
    )

    assert response.status_code == 200
    assert response.json() == {
        "data": {"__typename": "Query"},
        "extensions": {"cost": {"requestedQueryCost": 1, "maximumAvailable": 50000}},
    }


@pytest.fixture(scope="module")
async def upstream_api(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Api]:
    """facade in upstream mode over a sandbox of its own, whose faults nobody else sees."""
    api, _ = await open_api(make_settings(tmp_path_factory.mktemp("http-upstream")), products=8, upstream=True)
    yield api
    await api.client.aclose()
    await api.store.aclose()


async def test_field_error_that_nulls_data_is_200_under_graphql_response_json(upstream_api: Api) -> None:
    sandbox = upstream_api.store.sandbox_url  # type: ignore[attr-defined]
    async with httpx.AsyncClient(base_url=sandbox) as control:
        # validateToken is non-null: its failure nulls the whole `data`, after execution began.
        faults = [{"method": "POST", "path": "/api/v2/auth/validate", "kind": "status:503"}]
        assert (await control.post("/__sandbox/faults", json=faults)).status_code == 200
        try:
            response = await upstream_api.client.post(
                "/graphql", json={"query": '{ validateToken(token: "x") { isValid } }'}, headers=GRAPHQL_RESPONSE_JSON
            )
        finally:
            await control.delete("/__sandbox/faults")

    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None
    assert body["errors"][0]["path"] == ["validateToken"]
    assert body["errors"][0]["extensions"]["code"] == "UPSTREAM_ERROR"


@pytest.mark.parametrize(
    ("accept", "media"),
    [
        ("application/graphql-response+json, application/json;q=0.9", "application/graphql-response+json"),
        ("application/json, application/graphql-response+json;q=0.5", "application/json"),
        ("application/json, application/graphql-response+json", "application/graphql-response+json"),
        ("*/*", "application/json"),
        ("application/*;q=0.8", "application/json"),
        ("text/plain, application/graphql-response+json;q=0.1", "application/graphql-response+json"),
    ],
)
async def test_response_media_type_is_the_accepted_one_of_highest_quality(api: Api, accept: str, media: str) -> None:
    response = await api.client.post("/graphql", json={"query": "{ __typename }"}, headers={"Accept": accept})

    assert response.status_code == 200
    assert response.headers["content-type"] == f"{media}; charset=utf-8"


@pytest.mark.parametrize("accept", ["application/xml", "application/problem+json", "application/json;q=0"])
async def test_unacceptable_accept_is_406_coded(api: Api, accept: str) -> None:
    response = await api.client.post("/graphql", json={"query": "{ __typename }"}, headers={"Accept": accept})

    assert response.status_code == 406
    assert response.json()["errors"][0]["extensions"]["code"] == "NOT_ACCEPTABLE"


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE", "OPTIONS"])
async def test_other_methods_are_405_coded(api: Api, method: str) -> None:
    response = await api.client.request(method, "/graphql", json={"query": "{ __typename }"})

    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    assert response.json()["errors"][0]["extensions"]["code"] == "METHOD_NOT_ALLOWED"


# -- sizes ----------------------------------------------------------------------------------------


def padded_body(size: int) -> bytes:
    """A valid JSON request of exactly `size` bytes."""
    head, tail = b'{"query": "{ __typename }", "extensions": {"pad": "', b'"}}'
    return head + b"x" * (size - len(head) - len(tail)) + tail


async def test_body_at_the_limit_runs_and_one_byte_more_is_413(api: Api) -> None:
    limit = api.settings.max_body_bytes
    headers = {"Content-Type": "application/json"}

    at_limit = await api.client.post("/graphql", content=padded_body(limit), headers=headers)
    over = await api.client.post("/graphql", content=padded_body(limit + 1), headers=headers)

    assert at_limit.status_code == 200
    assert over.status_code == 413
    assert over.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"


@pytest.mark.parametrize("content_length", [None, "20"], ids=["chunked", "lying Content-Length"])
async def test_a_50_mb_body_is_refused_while_streaming_without_reading_it_whole(
    api: Api, content_length: str | None
) -> None:
    sent = 0
    chunk = b"x" * 65_536

    async def body() -> AsyncIterator[bytes]:
        nonlocal sent
        yield b'{"query": "{ __typename }", "extensions": {"pad": "'
        while sent < 50_000_000:
            sent += len(chunk)
            yield chunk

    headers = {"Content-Type": "application/json"}
    if content_length is not None:
        headers["Content-Length"] = content_length
    response = await api.client.post("/graphql", content=body(), headers=headers)

    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
    assert sent <= api.settings.max_body_bytes + len(chunk)


async def test_declared_content_length_over_the_limit_is_413_before_reading(api: Api) -> None:
    read = False

    async def body() -> AsyncIterator[bytes]:
        nonlocal read
        read = True
        yield b"{}"

    response = await api.client.post(
        "/graphql",
        content=body(),
        headers={"Content-Type": "application/json", "Content-Length": str(api.settings.max_body_bytes + 1)},
    )

    assert response.status_code == 413
    assert not read


async def test_get_url_over_the_limit_is_414(api: Api) -> None:
    padding = "#" + "x" * api.settings.max_url_bytes
    response = await api.client.get("/graphql", params={"query": "{ __typename }\n" + padding})

    assert response.status_code == 414
    assert response.json()["errors"][0]["extensions"]["code"] == "URI_TOO_LONG"


# -- headers --------------------------------------------------------------------------------------


@pytest.mark.parametrize("header", ["Authorization", "X-Session-Id", "Content-Type", "Accept-Language"])
async def test_a_header_read_as_one_value_sent_twice_is_400(api: Api, header: str) -> None:
    token = await api.login("alice")
    values = {
        "Authorization": (f"Bearer {token}", "Bearer someone-else"),
        "X-Session-Id": ("00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000002"),
        "Content-Type": ("application/json", "application/graphql"),
        "Accept-Language": ("de", "en"),
    }[header]
    headers = [("Content-Type", "application/json")] if header != "Content-Type" else []
    headers += [(header, value) for value in values]

    response = await api.client.post("/graphql", content=b'{"query": "{ viewer { sourceId } }"}', headers=headers)

    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["extensions"] == {"code": "DUPLICATE_HEADER", "header": header.lower()}
    assert token not in response.text


async def test_one_authorization_header_signs_in(api: Api) -> None:
    token = await api.login("alice")

    assert (await api.data("{ viewer { sourceId } }", token=token))["viewer"]["sourceId"]


# -- CORS -----------------------------------------------------------------------------------------

APP_ORIGIN = "https://shop.example"


@pytest.fixture
async def cors_client(api: Api, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = api.settings.model_copy(update={"cors_origins": [APP_ORIGIN]})
    app = create_app(settings, backend=api.store)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://facade.test") as client:
        yield client


async def test_cors_preflight_allows_a_configured_origin(cors_client: httpx.AsyncClient) -> None:
    response = await cors_client.options(
        "/graphql",
        headers={
            "Origin": APP_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )

    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == APP_ORIGIN
    assert "POST" in response.headers["access-control-allow-methods"]
    allowed = response.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed
    assert "content-type" in allowed


async def test_cors_answers_carry_the_origin_refusals_too(cors_client: httpx.AsyncClient) -> None:
    ok = await cors_client.post("/graphql", json={"query": "{ __typename }"}, headers={"Origin": APP_ORIGIN})
    refused = await cors_client.post(
        "/graphql", content=b"{", headers={"Origin": APP_ORIGIN, "Content-Type": "application/json"}
    )

    assert ok.headers["access-control-allow-origin"] == APP_ORIGIN
    assert refused.status_code == 400
    assert refused.headers["access-control-allow-origin"] == APP_ORIGIN


async def test_cors_refuses_another_origin(cors_client: httpx.AsyncClient) -> None:
    preflight = await cors_client.options(
        "/graphql", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    )
    simple = await cors_client.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"Origin": "https://evil.example"}
    )

    assert preflight.status_code == 400
    assert "access-control-allow-origin" not in preflight.headers
    assert "access-control-allow-origin" not in simple.headers


async def test_no_cors_by_default(api: Api) -> None:
    response = await api.client.post("/graphql", json={"query": "{ __typename }"}, headers={"Origin": APP_ORIGIN})

    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers


async def test_browser_gets_graphiql_with_local_assets(api: Api) -> None:
    page = await api.client.get("/graphql", headers={"Accept": "text/html,application/xhtml+xml"})

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "query Storefront" in page.text
    for asset in (
        "graphiql.min.js",
        "graphiql.min.css",
        "react.production.min.js",
        "react-dom.production.min.js",
    ):
        assert f"/graphql/static/{asset}" in page.text
        served = await api.client.get(f"/graphql/static/{asset}")
        assert served.status_code == 200, asset
        assert len(served.content) > 5_000


async def test_unknown_example_falls_back_to_welcome(api: Api) -> None:
    page = await api.client.get("/graphql?example=../../etc/passwd", headers={"Accept": "text/html"})

    assert page.status_code == 200
    assert "query Storefront" in page.text


async def test_a_client_hanging_up_mid_body_is_not_a_crash(tmp_path: Path) -> None:
    # A caller that times out halfway through sending its body: Starlette raises ClientDisconnect
    # from the read, and anything the app lets out uvicorn logs as a crash, with its traceback.
    app = create_app(make_settings(tmp_path))

    assert await hang_up(app, "/graphql") == [499]
