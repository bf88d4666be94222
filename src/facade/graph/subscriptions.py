"""Subscriptions (FLECS orders): billing and line items pointing at products."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.scalars import JSON

from facade.graph.base import Connection, batched

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


@strawberry.type(description="A user's subscription (an order with line items).")
class Subscription:
    id: strawberry.ID
    status: str
    billing: Billing
    line_items: list[LineItem]
    created_at: dt.datetime

    customer: Annotated[User, strawberry.lazy("facade.graph.users")] | None = batched("user", "user_id")

    @strawberry.field(description="The customer's user id (FLECS customer_id).")
    def customer_id(self) -> strawberry.ID:
        return strawberry.ID(str(self.user_id))  # type: ignore[attr-defined]


@strawberry.type(description="A page of Subscription items (Relay).")
class SubscriptionConnection(Connection[Subscription]):
    pass
