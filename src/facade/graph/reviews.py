"""Reviews of products and apps, and posting one (FLECS POST products/apps/reviews). A review is a
`Node`: its global id is `Review:<review id>`."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated

import strawberry

from facade import models
from facade.graph.base import Connection, Info, Need, batched, int_id, private, root_mutation
from facade.graph.inputs import GLOBAL_ID, RATING, REVIEW_TEXT, arg
from facade.graph.nodes import Node, int_key, lookup_key, node_type

if TYPE_CHECKING:
    from facade.graph.products import Product
    from facade.graph.users import User


@strawberry.type(description="A review of a product.")
@node_type("Review", "review", int_key, models.Review)
class Review(Node):
    # Public, as the product it reviews: `node(id:)` answers it to anyone, the reviewer's e-mail
    # to the reviewer only, as on every other road to it.
    reviewer: str
    reviewer_email: str | None = private(
        "reviewer_email",
        lambda principal, review: principal is not None and principal.user_id == review.user_id,
        description="The reviewer's e-mail: shown to the reviewer only.",
    )
    review: str
    rating: int = strawberry.field(description="1 to 5 stars.")
    status: str
    verified: bool = strawberry.field(description="The reviewer bought the product.")
    created_at: dt.datetime

    product: Annotated[Product, strawberry.lazy("facade.graph.products")] | None = batched("product", "product_id")
    user: Annotated[User, strawberry.lazy("facade.graph.users")] | None = batched(
        "user", "user_id", description="The signed-in user who wrote it, when known."
    )


@strawberry.type(description="A page of Review items (Relay).")
class ReviewConnection(Connection[Review]):
    pass


@strawberry.type
class ReviewMutations:
    @root_mutation(
        Need.USER,
        description="Review a product or app as the signed-in user (1 to 5 stars); `productId` is the product's "
        "global `id` or its `sourceId`.",
    )
    async def post_review(
        self,
        info: Info,
        product_id: Annotated[strawberry.ID, arg(GLOBAL_ID)],
        review: Annotated[str, arg(REVIEW_TEXT)],
        rating: Annotated[int, arg(RATING)],
    ) -> Review | None:
        principal = info.context.require_principal()
        key = lookup_key(product_id, "Product", "productId", lambda value: int_id(value, "productId"))
        return await info.context.backend.reviews.create(principal, key, review, rating)  # type: ignore[return-value]
