"""Subscriptions (FLECS orders): billing and line items pointing at products.

The GraphQL type is `CustomerSubscription`, not `Subscription`: Apollo Client's cache (and other
tools) take a type of that name for the subscription root type, and would not normalise these
records (`viewer { subscriptions }` read back from its cache lost data)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.scalars import JSON

from facade import models
from facade.graph.base import Connection, batched
from facade.graph.nodes import Node, int_key, node_type
from facade.graph.permissions import is_owner_or_owners_admin, record_rule

if TYPE_CHECKING:
    from facade.graph.products import Product
    from facade.graph.users import User


@strawberry.type(description="Who pays for a subscription.")
class Billing:
    first_name: str
    last_name: str
    company: str
    email: str


@strawberry.type(description="One product in a subscription.")
class LineItem:
    id: strawberry.ID
    status: str
    product_id: strawberry.ID
    variation_id: int
    quantity: int
    image: JSON

    product: Annotated[Product, strawberry.lazy("facade.graph.products")] | None = batched("product", "product_id")


@record_rule(
    lambda principal, subscription, customer: is_owner_or_owners_admin(principal, subscription.user_id, customer),
    "its customer and the admins of the customer's tenant",
    via=("user", "user_id"),
)
@strawberry.type(description="A customer's subscription (a FLECS order with line items).")
@node_type("CustomerSubscription", "subscription", int_key, models.Subscription)
class CustomerSubscription(Node):
    status: str
    billing: Billing
    line_items: list[LineItem]
    created_at: dt.datetime

    customer: Annotated[User, strawberry.lazy("facade.graph.users")] | None = batched("user", "user_id")

    @strawberry.field(description="The customer's user id (FLECS customer_id).")
    def customer_id(self) -> strawberry.ID:
        return strawberry.ID(str(self.user_id))  # type: ignore[attr-defined]


@strawberry.type(description="A page of CustomerSubscription items (Relay).")
class CustomerSubscriptionConnection(Connection[CustomerSubscription]):
    pass
