"""FLECS licenses: activation (by user license, by license key, or "already active" for a known
session), validation of a device's session, and registration of a device license."""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import TYPE_CHECKING, Annotated

import strawberry

from facade import models
from facade.errors import BadUserInput, Unauthenticated
from facade.graph.base import Connection, Info, Need, batched, root_field, root_mutation
from facade.graph.inputs import LICENSE_KEY, MANUFACTURER_ID, NAME, SESSION_ID, arg, limited
from facade.graph.nodes import Node, int_key, node_type
from facade.graph.permissions import is_owner_or_owners_admin, record_rule
from facade.models import check_session_id

if TYPE_CHECKING:
    from facade.graph.devices import Device
    from facade.graph.products import Product
    from facade.graph.users import User


@strawberry.type(description="A FLECS device activation session: send its id as sessionId (X-Session-Id).")
class Session:
    id: str
    timestamp: int = strawberry.field(description="When the session was issued, seconds since the epoch.")


@record_rule(
    lambda principal, license, owner: is_owner_or_owners_admin(principal, license.user_id, owner),
    "its owner and the admins of the owner's tenant",
    via=("user", "user_id"),
)
@strawberry.type(description="A license: its key, the device it is bound to and its activation session.")
@node_type("License", "license", int_key, models.License)
class License(Node):
    key: str
    activated_at: dt.datetime | None
    valid_until: dt.datetime | None
    created_at: dt.datetime

    @strawberry.field(description="The activation session, once activated.")
    def activation_session(self) -> Session | None:
        if self.session_id is None:  # type: ignore[attr-defined]
            return None
        return Session(id=self.session_id, timestamp=self.session_timestamp or 0)  # type: ignore[attr-defined]

    @strawberry.field(description="Activated and not expired.")
    def is_valid(self) -> bool:
        until = self.valid_until
        return self.session_id is not None and (until is None or until > dt.datetime.now(dt.UTC))  # type: ignore[attr-defined]

    owner: Annotated[User, strawberry.lazy("facade.graph.users")] | None = batched("user", "user_id")
    product: Annotated[Product, strawberry.lazy("facade.graph.products")] | None = batched("product", "product_id")
    device: Annotated[Device, strawberry.lazy("facade.graph.devices")] | None = batched("device", "device_id")


@strawberry.type(description="A page of License items (Relay).")
class LicenseConnection(Connection[License]):
    pass


@strawberry.type(description="The outcome of activateLicense.")
class LicenseActivation:
    already_active: bool = strawberry.field(description="True when the session was already active (nothing changed).")
    session: Session
    license_key: str | None = strawberry.field(description="The activated key; null when already active.")


@strawberry.type(description="Whether a device session holds a valid license.")
class LicenseValidation:
    is_valid: bool
    session: Session | None


@strawberry.input(description="A device manufacturer.")
class ManufacturerInput:
    id: int = limited(MANUFACTURER_ID)
    name: str = limited(NAME)


def session_argument(info: Info, session_id: str | None) -> str:
    """The session id from the argument, else from the X-Session-Id header."""
    value = session_id or info.context.session_id
    if not value:
        raise BadUserInput("Give `sessionId` (or send the X-Session-Id header).", field="sessionId")
    return check_session_id(value)


@strawberry.type
class LicenseQueries:
    @root_field(
        Need.PUBLIC,
        description="Validate a device's license by its session id (FLECS device/license/validate).",
    )
    async def validate_license(
        self, info: Info, session_id: Annotated[str | None, arg(SESSION_ID)] = None
    ) -> LicenseValidation | None:
        valid, session = await info.context.backend.licenses.validate(session_argument(info, session_id))
        return LicenseValidation(
            is_valid=valid,
            session=Session(id=session.id, timestamp=session.timestamp) if session else None,
        )


@strawberry.type
class LicenseMutations:
    @root_mutation(
        Need.PUBLIC,
        description="Activate a device license (FLECS device/license/activate): by `licenseKey`, or with one of the "
        "signed-in user's licenses; a known active `sessionId` answers alreadyActive.",
    )
    async def activate_license(
        self,
        info: Info,
        license_key: Annotated[str | None, arg(LICENSE_KEY)] = None,
        session_id: Annotated[str | None, arg(SESSION_ID)] = None,
    ) -> LicenseActivation | None:
        session = session_id or info.context.session_id
        if session is not None:
            check_session_id(session)
        principal = info.context.principal
        if principal is None and not license_key:
            if info.context.auth_error is not None:
                raise info.context.auth_error
            if session is None:
                raise Unauthenticated("Sign in, or give a license key or an active session id.")
        # A licence key is a secret a caller may guess: count tries per address (a guess names no account).
        guess = info.context.attempt("activateLicense", None) if license_key else contextlib.nullcontext()
        async with guess:
            a = await info.context.backend.licenses.activate(principal, license_key or None, session)
        return LicenseActivation(
            already_active=a.already_active,
            session=Session(id=a.session.id, timestamp=a.session.timestamp),
            license_key=a.license_key,
        )

    @root_mutation(
        Need.USER,
        description="Register a device license with manufacturer and device details (FLECS device/license).",
    )
    async def register_device_license(
        self,
        info: Info,
        manufacturer: ManufacturerInput,
        model: Annotated[str, arg(NAME)],
        serial_number: Annotated[str, arg(NAME)],
        manufacture_date: dt.date,
    ) -> Annotated[Device, strawberry.lazy("facade.graph.devices")] | None:
        return await info.context.backend.licenses.register_device(  # type: ignore[return-value]
            info.context.require_principal(),
            manufacturer.id,
            manufacturer.name,
            model,
            serial_number,
            manufacture_date,
        )
