"""The sort options of every list, one enum per entity. Each value is the backend's sort key."""

from __future__ import annotations

import enum

import strawberry


@strawberry.enum(description="Fields a product list can be sorted by.")
class ProductSort(enum.Enum):
    ID = "id"
    NAME = "name"
    PRICE = "price"
    CREATED_AT = "created_at"
    AVERAGE_RATING = "average_rating"
    RATING_COUNT = "rating_count"


@strawberry.enum(description="Fields a store list can be sorted by.")
class StoreSort(enum.Enum):
    ID = "id"
    NAME = "name"
    CREATED_AT = "created_at"


@strawberry.enum(description="Fields a user list can be sorted by.")
class UserSort(enum.Enum):
    ID = "id"
    DISPLAY_NAME = "display_name"
    LOGIN = "login"
    CREATED_AT = "created_at"


@strawberry.enum(description="Fields a review list can be sorted by.")
class ReviewSort(enum.Enum):
    ID = "id"
    CREATED_AT = "created_at"
    RATING = "rating"


@strawberry.enum(description="Fields a subscription list can be sorted by.")
class SubscriptionSort(enum.Enum):
    ID = "id"
    CREATED_AT = "created_at"


@strawberry.enum(description="Fields a device list can be sorted by.")
class DeviceSort(enum.Enum):
    ID = "id"
    NAME = "name"
    STATUS = "status"
    APP_TYPE = "app_type"
    CREATED_AT = "created_at"
    LAST_MODIFIED_AT = "last_modified_at"


@strawberry.enum(description="Fields a license list can be sorted by.")
class LicenseSort(enum.Enum):
    ID = "id"
    CREATED_AT = "created_at"


@strawberry.enum(
    description="Afosto's lists come in the order Afosto answers them in (each list's description says "
    "which); `sortDirection: DESC` reverses it where the mode can."
)
class CommerceSort(enum.Enum):
    SOURCE = "source"
