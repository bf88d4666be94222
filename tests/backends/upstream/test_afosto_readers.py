"""The lean readers of Afosto bodies: what they take as it stands, what they coerce, what they
refuse, and that the records they build answer through the generated Strawberry types."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import strawberry
from graphql import GraphQLList, GraphQLNonNull, GraphQLObjectType
from strawberry.schema.config import StrawberryConfig

from facade.backends.upstream.afosto import generate as g
from facade.backends.upstream.afosto.generated import payloads as p
from facade.backends.upstream.afosto.generated.operations import OPERATIONS
from facade.backends.upstream.afosto.readers import projection, read_many, read_record
from facade.errors import UpstreamError
from facade.graph.afosto.generated import types
from facade.graph.afosto.scalars import SCALARS

ORDER: dict[str, Any] = {
    "id": "0b5b7a4e-61c5-4b8e-9a58-3f2f0f4f1d10",
    "number": "ODR-10000546",
    "state": {
        "is_locked": True,
        "type": "order",
        "flow": [
            {"code": "accept", "order": 1, "trigger": "accept", "actions": [{"handled_at": "2026-11-30T08:00:00"}]}
        ],
        "progress": {"allocation": "pending"},
    },
    "tags": ["web", None],
    "created_at": "2026-11-30T08:00:00+01:00",
    "unknown_key": {"ignored": True},
}


def test_a_body_is_read_into_records_with_enums_times_and_nested_lists() -> None:
    order = read_record(p.OdrOrder, ORDER)

    assert order.number == "ODR-10000546"
    assert order.state is not None
    assert order.state.type is p.OdrOrderStateType.ORDER
    assert order.state.is_locked is True
    assert order.state.is_canceled is None  # a key the body lacks
    assert order.state.flow is not None
    step = order.state.flow[0]
    assert step is not None
    assert step.trigger is p.OdrOrderStepTrigger.ACCEPT
    assert step.actions is not None
    action = step.actions[0]
    assert action is not None
    assert action.handled_at == dt.datetime(2026, 11, 30, 8, tzinfo=dt.UTC)  # no offset: UTC
    assert order.created_at == dt.datetime(2026, 11, 30, 7, tzinfo=dt.UTC)
    assert order.tags == ["web", None]
    assert order.settings is None


@pytest.mark.parametrize(
    ("sent", "read"),
    [(7, 7), (7.0, 7), ("7", 7), (-(2**31), -(2**31))],
)
def test_an_integer_sent_loosely_is_read_as_an_int(sent: Any, read: int) -> None:
    step = read_record(p.OdrOrderStep, {"order": sent})
    assert step.order == read


@pytest.mark.parametrize(
    "body",
    [
        {"order": 2**31},  # beyond GraphQL's Int
        {"order": "seven"},
        {"order": True},
        {"trigger": "explode"},  # not a documented value
        {"actions": {"handled_at": "2026-11-30"}},  # not a list
        {"actions": [{"handled_at": "yesterday"}]},
    ],
)
def test_a_value_the_docs_do_not_allow_is_refused(body: dict[str, Any]) -> None:
    with pytest.raises(UpstreamError) as refused:
        read_record(p.OdrOrderStep, body)
    assert refused.value.code == "UPSTREAM_ERROR"
    assert "explode" not in str(refused.value)  # what the upstream sent stays out of the message
    assert "yesterday" not in str(refused.value)


def test_empty_text_for_a_time_a_date_or_an_enum_reads_as_none() -> None:
    step = read_record(p.OdrOrderStep, {"trigger": "", "actions": [{"handled_at": ""}]})
    assert step.trigger is None
    assert step.actions is not None
    assert step.actions[0] is not None
    assert step.actions[0].handled_at is None
    order = read_record(p.OdrOrder, {"settings": {"due_at": ""}})
    assert order.settings is not None
    assert order.settings.due_at is None


def test_an_int64_takes_what_an_int_cannot() -> None:
    payment = read_record(p.RelOrganisationPaymentSettingsPostPayment, {"spending_limit": 2**40, "due_after": "30"})
    assert payment.spending_limit == 2**40
    assert payment.due_after == 30


def test_a_list_body_is_read_item_by_item() -> None:
    channels = read_many(p.CatChannel, [{"id": "a", "type": "pos"}, None, {"id": "b", "type": "storefront"}])
    assert [c.type if c else None for c in channels] == [p.CatChannelType.POS, None, p.CatChannelType.STOREFRONT]
    with pytest.raises(UpstreamError):
        read_many(p.CatChannel, {"id": "a"})


def test_records_answer_through_the_generated_types() -> None:
    order = read_record(p.OdrOrder, ORDER)
    channels = read_many(p.CatChannel, [{"id": "a", "name": "Shop", "type": "pos"}])

    @strawberry.type
    class Query:
        @strawberry.field
        def order(self) -> types.AfostoOdrOrder:
            return order  # type: ignore[return-value]

        @strawberry.field
        def channels(self) -> list[types.AfostoCatChannel | None]:
            return channels  # type: ignore[return-value]

    schema = strawberry.Schema(query=Query, types=types.TYPES, config=StrawberryConfig(scalar_map=SCALARS))
    result = schema.execute_sync(
        "{ order { number createdAt state { type isLocked flow { trigger actions { handledAt } } } tags }"
        " channels { name type } }"
    )

    assert result.errors is None
    assert result.data == {
        "order": {
            "number": "ODR-10000546",
            "createdAt": "2026-11-30T08:00:00+01:00",  # the instant, in the offset Afosto sent
            "state": {
                "type": "ORDER",
                "isLocked": True,
                "flow": [{"trigger": "ACCEPT", "actions": [{"handledAt": "2026-11-30T08:00:00+00:00"}]}],
            },
            "tags": ["web", None],
        },
        "channels": [{"name": "Shop", "type": "POS"}],
    }


SAMPLES: dict[str, Any] = {
    "text": "text",
    "id": "0b5b7a4e-61c5-4b8e-9a58-3f2f0f4f1d10",
    "integer": 7,
    "int64": 2**40,
    "number": 1.5,
    "boolean": True,
    "timestamp": "2026-11-30T08:00:00Z",
    "day": "2026-11-30",
    "free": {"any": ["json", 1]},
    "file": "text",
}


def sample(contract: g.Contract, t: g.T, depth: int = 0) -> Any:
    """A well-formed body of the generated type `t`, every field sent, each list with a null."""
    if t.kind == "leaf":
        return SAMPLES[t.name]
    if t.kind == "enum":
        return next(e.values[0] for e in contract.enums.values() if e.name == t.name)
    if t.kind == "list":
        assert t.item is not None
        return [sample(contract, t.item, depth), None]
    if depth > 8:
        return None
    fields = contract.outputs.defs[t.name].fields
    return {key: sample(contract, sub, depth + 1) for key, sub in fields}


def selection(graphql_type: Any, depth: int = 0) -> str:
    """Every field of an object type, to the leaves."""
    while isinstance(graphql_type, GraphQLNonNull | GraphQLList):
        graphql_type = graphql_type.of_type
    if not isinstance(graphql_type, GraphQLObjectType):
        return ""
    parts = [f"{name} {selection(field.type, depth + 1)}" for name, field in graphql_type.fields.items()]
    return "{ " + " ".join(parts) + " }" if depth < 9 else "{ __typename }"


def test_every_answer_type_reads_a_well_formed_body_and_answers_every_field() -> None:
    """For each generated answer type: a body with every field is read by the lean readers and
    its record answers every field through the generated Strawberry type."""
    generated = g.generate(format_code=False)
    contract = generated.contract
    answers = sorted(contract.outputs.defs)
    assert {op.payload for op in OPERATIONS if op.payload is not None} <= set(answers)
    bodies = {name: sample(contract, g.T("object", name)) for name in answers}
    records = {name: read_record(getattr(p, name), body) for name, body in bodies.items()}

    def answer(record: Any) -> Any:
        return lambda: record

    namespace = {
        f"t{i}": strawberry.field(resolver=answer(records[name]), graphql_type=getattr(types, f"Afosto{name}"))
        for i, name in enumerate(answers)
    }
    query = strawberry.type(type("Query", (), namespace))
    schema = strawberry.Schema(query=query, types=types.TYPES, config=StrawberryConfig(scalar_map=SCALARS))
    root = schema._schema.query_type
    document = "{ " + " ".join(f"t{i} {selection(root.fields[f't{i}'].type)}" for i in range(len(answers))) + " }"

    result = schema.execute_sync(document)

    assert result.errors is None, result.errors[:3]
    assert result.data is not None
    # Spot checks of what the leaves answer.
    order = result.data[f"t{answers.index('OdrOrder')}"]
    assert order["id"] == SAMPLES["id"]
    assert order["createdAt"] == "2026-11-30T08:00:00+00:00"
    assert order["state"]["type"] == "CART"
    assert order["tags"] == ["text", None]
    organisation = result.data[f"t{answers.index('RelOrganisation')}"]
    assert organisation["paymentSettings"]["postPayment"]["spendingLimit"] == 2**40
    assert organisation["metadata"] == SAMPLES["free"]


def test_a_projection_reads_only_its_fields_as_the_record_reader_does() -> None:
    read = projection(p.WmsStock, ("sku", "available", "total"))
    body = {"sku": 1234, "available": "7", "total": 9.0, "expires_at": "not a time", "lot_number": ["x"]}

    # The listed fields coerced as read_record coerces them; the others (malformed here) not read.
    assert read(body) == {"sku": "1234", "available": 7, "total": 9}
    assert read({}) == {"sku": None, "available": None, "total": None}
    whole = read_record(p.WmsStock, {"sku": 1234, "available": "7", "total": 9.0})
    assert (whole.sku, whole.available, whole.total) == (read(body)["sku"], 7, 9)
    for refused in ({"available": "seven"}, {"total": 2**31}, [1, 2]):
        with pytest.raises(UpstreamError) as error:
            read(refused)
        assert error.value.code == "UPSTREAM_ERROR"
    with pytest.raises(KeyError):
        projection(p.WmsStock, ("not_a_field",))
