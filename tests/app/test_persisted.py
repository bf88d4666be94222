"""Persisted documents over HTTP: Apollo's automatic persisted queries (hash first, the document on
a miss), trusted-documents mode (only registered documents run, sent by hash or `documentId`),
and `facade documents register` writing the manifest of the playground's operations."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from conftest import Api, StatementCounter, make_settings, open_api
from facade.backends.local.base import engines
from facade.cli import main
from facade.persisted import PersistedDocuments, sha256

PLAYGROUND = Path(__file__).resolve().parents[2] / "playground"
STOREFRONT = (PLAYGROUND / "storefront.graphql").read_text(encoding="utf-8")
OTHER = "{ products(first: 2) { totalCount nodes { name } } }"


def persisted(document: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": sha256(document)}}


async def post(api: Api, body: dict[str, Any], status: int = 200) -> dict[str, Any]:
    response = await api.client.post("/graphql", json=body)
    assert response.status_code == status, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def get(api: Api, params: dict[str, Any], status: int = 200) -> dict[str, Any]:
    sent = {k: json.dumps(v) if isinstance(v, dict) else v for k, v in params.items()}
    response = await api.client.get("/graphql", params=sent)
    assert response.status_code == status, response.text
    answer: dict[str, Any] = response.json()
    return answer


def code(body: dict[str, Any]) -> str:
    assert "data" not in body, body
    [error] = body["errors"]
    return str(error["extensions"]["code"])


@pytest.fixture(scope="module")
async def trusted(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Api]:
    tmp = tmp_path_factory.mktemp("trusted")
    manifest = tmp / "trusted-documents.json"
    assert main(["documents", "register", str(PLAYGROUND), "--output", str(manifest)]) == 0
    api, _ = await open_api(
        make_settings(tmp, trusted_documents=True, trusted_documents_file=manifest), products=20, upstream=False
    )
    yield api
    await api.client.aclose()
    await api.store.aclose()


async def test_automatic_persisted_queries_send_the_hash_first_and_the_document_on_a_miss(api: Api) -> None:
    query = "query ApqProducts { products(first: 3) { totalCount nodes { id name } } }"
    missed = await post(api, {"extensions": persisted(query)})
    assert code(missed) == "PERSISTED_QUERY_NOT_FOUND"
    assert missed["errors"][0]["message"] == "PersistedQueryNotFound"  # what Apollo Client looks for

    stored = await post(api, {"query": query, "extensions": persisted(query)})
    by_post = await post(api, {"extensions": persisted(query)})
    by_get = await get(api, {"extensions": persisted(query)})

    assert stored["data"]["products"]["totalCount"] > 3
    assert by_post == stored
    assert by_get == stored


async def test_a_document_that_does_not_match_its_hash_is_refused_and_not_stored(api: Api) -> None:
    query = "query Mismatch { products(first: 1) { totalCount } }"
    wrong = {"persistedQuery": {"version": 1, "sha256Hash": sha256(OTHER + " ")}}

    assert code(await post(api, {"query": query, "extensions": wrong}, status=400)) == "PERSISTED_QUERY_HASH_MISMATCH"
    assert code(await post(api, {"extensions": wrong})) == "PERSISTED_QUERY_NOT_FOUND"


async def test_a_malformed_persisted_query_is_a_bad_request(api: Api) -> None:
    for extensions in ({"persistedQuery": {"version": 2, "sha256Hash": sha256(OTHER)}}, {"persistedQuery": "x"}):
        assert code(await post(api, {"extensions": extensions}, status=400)) == "PERSISTED_QUERY_INVALID"
    assert code(await post(api, {"documentId": "md5:abc"}, status=400)) == "PERSISTED_QUERY_INVALID"


def test_the_apq_store_is_bounded_in_bytes() -> None:
    store = PersistedDocuments(apq_bytes=10_000)
    documents = [f"{{ products(first: {i}) {{ totalCount }} }}" + " " * 1000 for i in range(50)]
    for document in documents:
        assert store.resolve(document, persisted(document), None) == document
    assert store.remembered.currsize <= 10_000
    assert store.resolve(None, persisted(documents[-1]), None) == documents[-1]
    assert sha256(documents[0]) not in store.remembered


def test_hash_only_requests_without_apq_are_not_supported() -> None:
    store = PersistedDocuments(apq=False)
    with pytest.raises(Exception, match="PersistedQueryNotSupported"):
        store.resolve(None, persisted(OTHER), None)


async def test_trusted_mode_runs_registered_documents_by_hash_and_by_document_id(trusted: Api) -> None:
    digest = sha256(STOREFRONT)
    by_id = await get(trusted, {"documentId": f"sha256:{digest}"})
    by_hash = await post(trusted, {"extensions": persisted(STOREFRONT)})
    by_text = await post(trusted, {"query": STOREFRONT})

    assert len(by_id["data"]["products"]["nodes"]) == 5
    assert by_hash == by_id
    assert by_text == by_id


async def test_trusted_mode_refuses_every_other_document(trusted: Api) -> None:
    counter = StatementCounter()
    for each in engines(trusted.store.engine):
        event.listen(each, "before_cursor_execute", counter)
    try:
        await refuse_others(trusted)
    finally:
        for each in engines(trusted.store.engine):
            event.remove(each, "before_cursor_execute", counter)
    assert counter.count == 0, counter.statements


async def refuse_others(trusted: Api) -> None:
    assert code(await post(trusted, {"query": OTHER})) == "DOCUMENT_NOT_TRUSTED"
    assert code(await get(trusted, {"query": OTHER})) == "DOCUMENT_NOT_TRUSTED"
    # APQ stores nothing that is not registered.
    assert code(await post(trusted, {"query": OTHER, "extensions": persisted(OTHER)})) == "DOCUMENT_NOT_TRUSTED"
    assert code(await post(trusted, {"extensions": persisted(OTHER)})) == "PERSISTED_QUERY_NOT_FOUND"
    assert code(await post(trusted, {"documentId": sha256(OTHER)})) == "PERSISTED_QUERY_NOT_FOUND"


def test_register_writes_every_playground_operation_under_its_hash(tmp_path: Path) -> None:
    manifest = tmp_path / "documents.json"
    assert main(["documents", "register", str(PLAYGROUND), "--output", str(manifest)]) == 0

    written = json.loads(manifest.read_text(encoding="utf-8"))
    documents = sorted(p.read_text(encoding="utf-8") for p in PLAYGROUND.glob("*.graphql"))
    assert sorted(written.values()) == documents
    assert all(key == sha256(document) for key, document in written.items())
    assert main(["documents", "register", str(PLAYGROUND), "--output", str(manifest), "--check"]) == 0

    extra = tmp_path / "extra.graphql"
    extra.write_text(OTHER, encoding="utf-8")
    assert main(["documents", "register", str(extra), "--output", str(manifest), "--check"]) == 1
    assert main(["documents", "register", str(extra), "--output", str(manifest)]) == 0
    assert json.loads(manifest.read_text(encoding="utf-8"))[sha256(OTHER)] == OTHER


async def test_the_graphql_response_media_type_answers_a_miss_with_400(api: Api) -> None:
    response = await api.client.post(
        "/graphql",
        json={"extensions": persisted("{ __typename }")},
        headers={"Accept": "application/graphql-response+json"},
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
