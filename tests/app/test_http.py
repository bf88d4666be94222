"""GraphQL over HTTP as clients speak it: POST and GET, the two response media types, and the
GraphiQL page with its assets."""

from __future__ import annotations

import json

import pytest

from conftest import Api

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


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"{not json", "application/json", 400),
        (b'["a"]', "application/json", 400),
        (b'{"query": 42}', "application/json", 400),
        (b"query=x", "application/x-www-form-urlencoded", 415),
    ],
)
async def test_malformed_requests_are_client_errors(api: Api, body: bytes, content_type: str, status: int) -> None:
    response = await api.client.post("/graphql", content=body, headers={"Content-Type": content_type})

    assert response.status_code == status
    assert response.json()["errors"][0]["message"]


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
