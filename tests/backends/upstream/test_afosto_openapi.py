"""The OpenAPI document rebuilt from the Afosto contract: valid OpenAPI 3, every operation of the
generated table with its parameters, body and answer, and what `facade afosto openapi` writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from facade.backends.upstream.afosto.generated.operations import OPERATIONS
from facade.backends.upstream.afosto.openapi import openapi
from support.server import run_facade

openapi_spec_validator = pytest.importorskip("openapi_spec_validator")


def test_the_document_is_valid_openapi_3() -> None:
    openapi_spec_validator.validate(openapi())


def test_every_operation_is_in_the_document_once() -> None:
    paths = openapi()["paths"]

    documented = {f"{method.upper()} {path}" for path, item in paths.items() for method in item}

    assert documented == {op.key for op in OPERATIONS}
    assert len(documented) == 544
    ids = [item["operationId"] for methods in paths.values() for item in methods.values()]
    assert len(set(ids)) == len(ids)


def test_an_operation_carries_its_parameters_body_answer_and_errors() -> None:
    create = openapi()["paths"]["/odr/orders"]["post"]
    listing = openapi()["paths"]["/cat/groups"]["get"]

    assert {p["name"] for p in create["parameters"]} == {"x-idempotency-key"}
    assert create["requestBody"]["required"] is True
    assert create["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/OdrOrder"
    }
    assert create["responses"]["401"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    assert {p["name"]: p["in"] for p in listing["parameters"]} == {"x-page": "header", "x-page-size": "header"}
    assert "x-count" in listing["responses"]["200"]["headers"]


def test_schemas_carry_enums_and_the_fields_their_examples_lack() -> None:
    schemas = openapi()["components"]["schemas"]

    assert schemas["CatChannel"]["properties"]["type"]["enum"] == ["pos", "storefront", "order", "integration"]
    assert "created_at" in schemas["OdrOrder"]["properties"]  # listed, not in the example


def test_the_command_writes_the_document(tmp_path: Path) -> None:
    written = run_facade(tmp_path, "afosto", "openapi", "--output", "afosto.json")

    assert written.returncode == 0, written.stderr
    assert json.loads((tmp_path / "afosto.json").read_text(encoding="utf-8")) == json.loads(json.dumps(openapi()))
