"""The sandbox's Afosto emulation against the OpenAPI document rebuilt from the Afosto contract
(`facade.backends.upstream.afosto.openapi`), by schemathesis, over a real socket: every one of the
544 operations, with schema-valid ("positive") requests carrying a Bearer token, each response
checked by schemathesis' default checks (status code documented, content type, headers, body
schema, valid data accepted, no 5xx).

What this proves is that the emulator and the document agree (both come from the generated
operation table and the same schemas); not that the real Afosto API does what its document says.
`MAX_EXAMPLES` stays small to keep this about a minute: one operation's requests differ only in
the values schemathesis draws, and the emulator answers them all by the same few rules.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")

from facade.backends.upstream.afosto.generated.operations import OPERATIONS  # noqa: E402
from facade.backends.upstream.afosto.openapi import openapi  # noqa: E402
from facade.sandbox.afosto import Afosto  # noqa: E402
from facade.sandbox.afosto_store import HANDLED  # noqa: E402
from sandbox.conftest import Sandbox, run_sandbox  # noqa: E402

MAX_EXAMPLES = 5
CREDENTIALS = {"Authorization": "Bearer contract-test-token"}

CONFIG = schemathesis.Config.from_dict(
    {
        # Never the document's server (https://api.afosto.io): every call names the sandbox's URL,
        # and this placeholder (the discard port on loopback) catches any that would not.
        "base-url": "http://127.0.0.1:9/afosto",
        "generation": {"mode": "positive", "max-examples": MAX_EXAMPLES, "database": "none"},
        "seed": 20260101,
        "phases": {"stateful": {"enabled": False}},
    }
)
SCHEMA = schemathesis.openapi.from_dict(copy.deepcopy(openapi()), config=CONFIG)


def test_the_contract_test_covers_every_operation() -> None:
    labels = {operation.ok().label for operation in SCHEMA.get_all_operations()}

    assert labels == {op.key for op in OPERATIONS}
    assert len(labels) == 544


@pytest.fixture(scope="module")
def contract_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """A sandbox of its own: the random requests create Afosto records."""
    with run_sandbox(tmp_path_factory.mktemp("afosto-contract"), products=8) as running:
        yield running


# The hand-modelled operations answer from the store, which refuses (400) what the documentation
# marks optional but no real write can go without (a price's SKU, an order's channel): for them a
# schema-valid request may be refused; every other check holds.
LENIENT = [schemathesis.checks.positive_data_acceptance]


@SCHEMA.parametrize()
def test_operation_conforms(case: Any, contract_sandbox: Sandbox) -> None:
    base_url = f"{contract_sandbox.url}/afosto"
    response = case.call(base_url=base_url, headers=CREDENTIALS)
    excluded = LENIENT if case.operation.label in HANDLED else []
    case.validate_response(
        response, headers=CREDENTIALS, transport_kwargs={"base_url": base_url}, excluded_checks=excluded
    )


# -- the successes random requests do not reach -------------------------------------------------

EMULATOR = Afosto()


def _check(operation: Any, sandbox: Sandbox, **parts: Any) -> Any:
    """One request of the operation, with a body derived from its schema where it takes one."""
    base_url = f"{sandbox.url}/afosto"
    body = _body(operation.label)
    case = operation.Case(**parts) if body is None else operation.Case(body=body, **parts)
    response = case.call(base_url=base_url, headers=CREDENTIALS)
    case.validate_response(response, headers=CREDENTIALS, transport_kwargs={"base_url": base_url})
    return response


def _body(label: str) -> Any:
    spec = next(s for s in EMULATOR.specs if s.op.key == label)
    return EMULATOR.schemas.instance(spec.body, label) if spec.body is not None else None


def _answers_its_key(collection: str) -> bool:
    """Whether creating a record answers its key (one collection answers a list of what it
    made; those whose create answers no key at all are not collections, see `Afosto._answers`)."""
    spec = next(s for s in EMULATOR.specs if s.op.key == f"POST {collection}")
    answer = EMULATOR.schemas.resolve(spec.answer or {})
    return EMULATOR.collections[collection].key in answer.get("properties", {})


CREATED_AND_KEYED = sorted(c for c in EMULATOR.collections if _answers_its_key(c))
# Orders and channels are hand-modelled: the store keeps them (tests/sandbox/test_afosto_store.py).
GENERIC = [c for c in CREATED_AND_KEYED if f"POST {c}" not in HANDLED]


def test_most_collections_answer_the_key_of_what_they_create() -> None:
    assert len(CREATED_AND_KEYED) == len(EMULATOR.collections) - 1
    assert sorted(set(CREATED_AND_KEYED) - set(GENERIC)) == ["/cat/channels", "/odr/orders"]


@pytest.mark.parametrize("collection", GENERIC)
def test_a_collections_records_conform_from_creation_to_deletion(collection: str, contract_sandbox: Sandbox) -> None:
    """A random key names no record, so random requests meet only 404s on a record's read,
    update and delete: here each collection's record is created, then read, listed, updated and
    deleted, every answer checked as above."""
    key = EMULATOR.collections[collection].key
    item = f"{collection}/{{{key}}}"
    paths = SCHEMA.raw_schema["paths"]

    made = _check(SCHEMA[collection]["POST"], contract_sandbox)
    made_key = str(made.json()[key])
    read = _check(SCHEMA[item]["GET"], contract_sandbox, path_parameters={key: made_key})
    if "get" in paths[collection]:
        _check(SCHEMA[collection]["GET"], contract_sandbox)
    if "put" in paths[item]:
        _check(SCHEMA[item]["PUT"], contract_sandbox, path_parameters={key: made_key})
    if "delete" in paths[item]:
        gone = _check(SCHEMA[item]["DELETE"], contract_sandbox, path_parameters={key: made_key})
        assert gone.status_code < 300

    assert made.status_code < 300
    assert read.status_code == 200
