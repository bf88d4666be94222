"""Product reviews in the local store (the FLECS marketplace's WooCommerce reviews), and the
rating summary kept on each product: `average_rating` and `rating_count` always agree with the
product's reviews because they are recomputed in the transaction that adds a review.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from facade.auth import Principal
from facade.backends.local import tables as t
from facade.backends.local.base import Listing, Repository, construct, in_keys, page_by_parent, reading, utcnow
from facade.errors import BadUserInput, NotFound, Unauthenticated
from facade.models import Page, PageArgs, Review

SORTABLE: dict[str, Any] = {
    "id": t.reviews.c.id,
    "created_at": t.reviews.c.created_at,
    "rating": t.reviews.c.rating,
}


build_review = construct(Review)
_BY_PRODUCT = Listing(select(t.reviews), SORTABLE, t.reviews.c.id, t.reviews.c.product_id)
_BY_USER = Listing(select(t.reviews), SORTABLE, t.reviews.c.id, t.reviews.c.user_id)
_BY_ID = select(t.reviews).where(in_keys(t.reviews.c.id))


def format_rating(total: int, count: int) -> str:
    """WooCommerce's average_rating: a two-decimal string, "0.00" for a product without reviews."""
    if count == 0:
        return "0.00"
    average = Decimal(total) / Decimal(count)
    return str(average.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


async def has_bought(conn: AsyncConnection, user_id: int, product_id: int) -> bool:
    stmt = select(
        exists()
        .where(t.line_items.c.subscription_id == t.subscriptions.c.id)
        .where(t.subscriptions.c.user_id == user_id, t.line_items.c.product_id == product_id)
    )
    return bool((await conn.execute(stmt)).scalar())


class LocalReviews(Repository):
    async def get_many(self, ids: Sequence[int]) -> dict[int, Review]:
        """Reviews by id, one statement; ids without a review are absent."""
        if not ids:
            return {}
        rows = await self.rows(_BY_ID, {"keys": list(set(ids))})
        return {row["id"]: build_review(row) for row in rows}

    async def page_by_product(self, product_ids: Sequence[int], page: PageArgs) -> dict[int, Page[Review]]:
        async with reading(self.engine) as conn:
            return await page_by_parent(conn, _BY_PRODUCT, product_ids, page, build_review)

    async def page_by_user(self, user_ids: Sequence[int], page: PageArgs) -> dict[int, Page[Review]]:
        async with reading(self.engine) as conn:
            return await page_by_parent(conn, _BY_USER, user_ids, page, build_review)

    async def create(self, principal: Principal, product_id: int, review: str, rating: int) -> Review:
        if principal.user_id is None:
            raise Unauthenticated("Sign in to review a product.")
        if not 1 <= rating <= 5:
            raise BadUserInput("rating must be between 1 and 5", field="rating")
        text = review.strip()
        if not text:
            raise BadUserInput("review must not be blank", field="review")

        async with self.engine.begin() as conn:
            # FOR UPDATE (a no-op on SQLite, which serialises writers anyway) makes concurrent
            # reviews of one product queue up, so the recomputed summary counts both.
            product = (
                await conn.execute(select(t.products.c.id).where(t.products.c.id == product_id).with_for_update())
            ).first()
            if product is None:
                raise NotFound("No product with this id.", field="productId")
            user = (
                (
                    await conn.execute(
                        select(t.users.c.display_name, t.users.c.email).where(t.users.c.id == principal.user_id)
                    )
                )
                .mappings()
                .first()
            )
            if user is None:
                raise Unauthenticated("The signed-in user no longer exists.")

            values: dict[str, Any] = {
                "product_id": product_id,
                "user_id": principal.user_id,
                "reviewer": user["display_name"],
                "reviewer_email": user["email"],
                "review": text,
                "rating": rating,
                "status": "approved",
                "verified": await has_bought(conn, principal.user_id, product_id),
                "created_at": utcnow(),
            }
            result = await conn.execute(t.reviews.insert().values(**values))
            review_id = result.inserted_primary_key[0] if result.inserted_primary_key else None

            count, total = (
                await conn.execute(
                    select(func.count(), func.coalesce(func.sum(t.reviews.c.rating), 0)).where(
                        t.reviews.c.product_id == product_id, t.reviews.c.status == "approved"
                    )
                )
            ).one()
            await conn.execute(
                t.products.update()
                .where(t.products.c.id == product_id)
                .values(average_rating=format_rating(int(total), int(count)), rating_count=int(count))
            )
        return Review.model_validate({"id": review_id, **values})
