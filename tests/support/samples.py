"""Upstream payloads for unit tests of the REST clients, shaped as the contracts say."""

from __future__ import annotations

from typing import Any


def flecs_product(product_id: int, price: str = "1.00") -> dict[str, Any]:
    """A FLECS Console `product`, with every field the contract requires."""
    return {
        "id": product_id,
        "name": f"P{product_id}",
        "status": "publish",
        "description": "",
        "short_description": "",
        "average_rating": "0.00",
        "rating_count": 0,
        "categories": [],
        "attributes": [],
        "meta_data": [],
        "stock_status": "instock",
        "store": {"id": 1, "name": "S", "shop_name": "S", "url": "u", "address": {}},
        "permalink": "",
        "price": price,
        "purchasable": True,
    }
