"""Users: sign-in (FLECS login), token validation, the signed-in viewer and every edge a user
owns (subscriptions, purchases, licenses, devices, reviews, products sold)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated

import strawberry

from facade import models
from facade.auth import Principal, TokenKind
from facade.errors import Unauthenticated
from facade.graph.base import (
    Connection,
    Info,
    Need,
    batched,
    paged,
    private,
    root_field,
    root_mutation,
    self_or_colleague,
    self_or_tenant_admin,
)
from facade.graph.inputs import PASSWORD, STORE_ID, TOKEN, USERNAME, arg
from facade.graph.nodes import Node, int_key, node_type
from facade.graph.sorting import DeviceSort, LicenseSort, ProductSort, ReviewSort, SubscriptionSort
from facade.models import TenantRole

if TYPE_CHECKING:
    from facade.graph.devices import DeviceConnection
    from facade.graph.licenses import LicenseConnection
    from facade.graph.products import ProductConnection
    from facade.graph.reviews import ReviewConnection
    from facade.graph.stores import Store
    from facade.graph.subscriptions import CustomerSubscriptionConnection
    from facade.graph.tenants import Tenant

TenantRoleEnum = strawberry.enum(TenantRole, name="TenantRole", description="A user's role in their tenant.")


@strawberry.type(description="Console feature flags of a user.")
class FeatureFlags:
    is_vendor: bool
    is_whitelabeled: bool


@strawberry.type(description="A person who signs in: customer, vendor, tenant admin or cashier.")
@node_type("User", "user", int_key, models.User)
class User(Node):
    # A user's public profile (a vendor's, a reviewer's) is anyone's to see: the type has no record
    # rule. Personal and sign-in details are private fields: the user and their colleagues only
    # (members of their tenant; a device token is nobody's colleague).
    login: str | None = private("login", self_or_colleague)
    email: str | None = private("email", self_or_colleague)
    display_name: str
    first_name: str | None = private("first_name", self_or_colleague)
    last_name: str | None = private("last_name", self_or_colleague)
    user_code: str | None = private(
        "user_code", self_or_colleague, description="Code the user signs in with on a Flow Retail device."
    )
    account_type: str | None = private("account_type", self_or_colleague)
    tenant_role: TenantRoleEnum | None = private("tenant_role", self_or_colleague)  # type: ignore[valid-type]
    is_vendor: bool
    is_whitelabeled: bool
    created_at: dt.datetime

    @strawberry.field(description="Console feature flags.")
    def feature_flags(self) -> FeatureFlags:
        return FeatureFlags(is_vendor=self.is_vendor, is_whitelabeled=self.is_whitelabeled)

    tenant: Annotated[Tenant, strawberry.lazy("facade.graph.tenants")] | None = batched(
        "tenant", "tenant_id", guard=self_or_colleague
    )
    default_store: Annotated[Store, strawberry.lazy("facade.graph.stores")] | None = batched(
        "store", "default_store_id", guard=self_or_colleague
    )
    owned_products: Annotated[ProductConnection, strawberry.lazy("facade.graph.products")] | None = paged(
        "products_by_owner",
        "id",
        sort=ProductSort,
        description="Products this user sells (as vendor).",
    )
    reviews: Annotated[ReviewConnection, strawberry.lazy("facade.graph.reviews")] | None = paged(
        "reviews_by_user", "id", sort=ReviewSort, description="Reviews this user wrote."
    )
    purchased_products: Annotated[ProductConnection, strawberry.lazy("facade.graph.products")] | None = paged(
        "products_purchased",
        "id",
        sort=ProductSort,
        guard=self_or_tenant_admin,
        fixed=(False,),
        filters=[("store_id", Annotated[int | None, arg(STORE_ID)], None)],
        description="Products the user bought, through their subscriptions (FLECS my/products).",
    )
    purchased_apps: Annotated[ProductConnection, strawberry.lazy("facade.graph.products")] | None = paged(
        "products_purchased",
        "id",
        sort=ProductSort,
        guard=self_or_tenant_admin,
        fixed=(True,),
        filters=[("store_id", Annotated[int | None, arg(STORE_ID)], None)],
        description="Apps the user bought (FLECS my/products/apps).",
    )
    subscriptions: Annotated[CustomerSubscriptionConnection, strawberry.lazy("facade.graph.subscriptions")] | None = (
        paged(
            "subscriptions_by_user",
            "id",
            sort=SubscriptionSort,
            guard=self_or_tenant_admin,
            filters=[("store_id", Annotated[int | None, arg(STORE_ID)], None)],
            description="The user's subscriptions (FLECS my/subscriptions).",
        )
    )
    licenses: Annotated[LicenseConnection, strawberry.lazy("facade.graph.licenses")] | None = paged(
        "licenses_by_user",
        "id",
        sort=LicenseSort,
        guard=self_or_tenant_admin,
        description="The user's licenses.",
    )
    devices: Annotated[DeviceConnection, strawberry.lazy("facade.graph.devices")] | None = paged(
        "devices_by_owner",
        "id",
        sort=DeviceSort,
        guard=self_or_tenant_admin,
        description="FLECS devices the user registered (the user and their tenant's admins).",
    )


@strawberry.type(description="A page of User items (Relay).")
class UserConnection(Connection[User]):
    pass


@strawberry.type(description="A signed-in session: the token to send as `Authorization: Bearer <token>`.")
class LoginPayload:
    token: str
    token_expires: int = strawberry.field(description="Expiry, seconds since the epoch.")
    user: User
    feature_flags: FeatureFlags


@strawberry.type
class TokenValidation:
    is_valid: bool


@strawberry.type
class UserQueries:
    @root_field(Need.USER, description="The signed-in user.")
    async def viewer(self, info: Info) -> User | None:
        user_id = info.context.require_principal().user_id
        user = None if user_id is None else await info.context.loaders.user.load(user_id)
        if user is None:
            raise Unauthenticated("The signed-in user no longer exists; sign in again.")
        return user  # type: ignore[return-value]

    @root_field(
        Need.PUBLIC,
        description="Whether a token from `login` is still valid (FLECS auth/validate).",
    )
    async def validate_token(self, info: Info, token: Annotated[str, arg(TOKEN)]) -> TokenValidation:
        return TokenValidation(is_valid=await info.context.backend.users.validate_token(token))


@strawberry.type
class UserMutations:
    @root_mutation(Need.PUBLIC, description="Sign in with a login (or e-mail) and password (FLECS auth/login).")
    async def login(
        self, info: Info, username: Annotated[str, arg(USERNAME)], password: Annotated[str, arg(PASSWORD)]
    ) -> LoginPayload | None:
        # Counted per username and per address before the password is checked (ratelimit.py),
        # so that 50 aliased logins in one request are 50 attempts.
        async with info.context.attempt("login", username):
            result = await info.context.backend.users.login(username, password)
        # The backend's user: in upstream mode the API's (its names, its feature flags), what the
        # login payload lacks (FLECS sends no tenant role) filled from the directory by
        # backends/compose.py `complete`, so not re-read from the local store here.
        user = result.user
        if info.context.principal is None:
            # The caller has just proved who they are: the payload's user is theirs to read.
            info.context.principal = await info.context.principal_of(result.token.token) or Principal(
                kind=TokenKind.USER,
                subject=str(user.id),
                user_id=user.id,
                tenant_id=user.tenant_id,
                is_tenant_admin=user.tenant_role is TenantRole.ADMIN,
                token=result.token.token,
            )
        return LoginPayload(
            token=result.token.token,
            token_expires=result.token.expires,
            user=user,  # type: ignore[arg-type]
            feature_flags=FeatureFlags(is_vendor=user.is_vendor, is_whitelabeled=user.is_whitelabeled),
        )
