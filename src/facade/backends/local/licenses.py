"""Licences in the local store: FLECS device licences and the activation sessions they hold
(`/device/license/activate`, `/validate`, and `POST /device/license`, which registers a device
together with its licence).

A session is the `X-Session-Id` a FLECS device sends afterwards; it is valid while the licence
holding it is (`valid_until` in the future). The apps repository checks sessions through
`valid_session` here.
"""

from __future__ import annotations

import datetime as dt
import random
import secrets
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from facade.auth import Principal, TokenKind
from facade.backends.interfaces import Activation
from facade.backends.local import tables as t
from facade.backends.local.base import Listing, Repository, in_keys, page_by_parent, reading, utcnow
from facade.backends.local.devices import build_device, unused_device_id
from facade.errors import BadUserInput, Forbidden, Unauthenticated
from facade.models import (
    UUID_PATTERN,
    Device,
    DeviceAppType,
    DeviceStatus,
    License,
    Page,
    PageArgs,
    Session,
)

LICENSE_VALIDITY = dt.timedelta(days=365)

# Licence keys are typed by hand: no 0/O or 1/I.
KEY_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"

_system_random = secrets.SystemRandom()

SORTABLE: dict[str, Any] = {
    "id": t.licenses.c.id,
    "created_at": t.licenses.c.created_at,
}


def new_license_key(rng: random.Random = _system_random) -> str:
    """A key like `FLX-7K2Q-M9XD-4HPA`; the seed passes its own generator to stay reproducible."""
    groups = ("".join(rng.choice(KEY_ALPHABET) for _ in range(4)) for _ in range(3))
    return "FLX-" + "-".join(groups)


def new_session_id(rng: random.Random | None = None) -> str:
    """A lower-case UUID4, as FLECS uses for X-Session-Id."""
    if rng is None:
        return str(uuid.uuid4())
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def build_license(row: Any) -> License:
    return License.model_validate(dict(row))


def _is_current(row: Any, now: dt.datetime) -> bool:
    valid_until = row["valid_until"]
    return valid_until is None or valid_until > now


def _session(row: Any) -> Session:
    return Session(id=row["session_id"], timestamp=row["session_timestamp"] or 0)


async def _session_row(conn: AsyncConnection, session_id: str | None) -> Any:
    """The licence row holding a well-formed session id, or None (a malformed id is an unknown
    session, not a reason to tell the caller more)."""
    if not session_id or not UUID_PATTERN.fullmatch(session_id):
        return None
    columns = (t.licenses.c.session_id, t.licenses.c.session_timestamp, t.licenses.c.valid_until)
    result = await conn.execute(select(*columns).where(t.licenses.c.session_id == session_id))
    return result.mappings().first()


async def valid_session(conn: AsyncConnection, session_id: str | None) -> Session | None:
    """The session if a licence holds it and is still valid; None for anything else."""
    row = await _session_row(conn, session_id)
    if row is None or not _is_current(row, utcnow()):
        return None
    return _session(row)


async def _unused_key(conn: AsyncConnection) -> str:
    while True:
        candidate = new_license_key()
        if not (await conn.execute(select(exists().where(t.licenses.c.key == candidate)))).scalar():
            return candidate


_BY_ID = select(t.licenses).where(in_keys(t.licenses.c.id))
_BY_DEVICE = select(t.licenses).where(in_keys(t.licenses.c.device_id))
_BY_USER = Listing(select(t.licenses), SORTABLE, t.licenses.c.id, t.licenses.c.user_id)


class LocalLicenses(Repository):
    async def get_many(self, ids: Sequence[int]) -> dict[int, License]:
        if not ids:
            return {}
        rows = await self.rows(_BY_ID, {"keys": list(set(ids))})
        return {row["id"]: build_license(row) for row in rows}

    async def by_device(self, device_ids: Sequence[str]) -> dict[str, License]:
        if not device_ids:
            return {}
        rows = await self.rows(_BY_DEVICE, {"keys": list(set(device_ids))})
        return {row["device_id"]: build_license(row) for row in rows}

    async def page_by_user(self, user_ids: Sequence[int], page: PageArgs) -> dict[int, Page[License]]:
        async with reading(self.engine) as conn:
            return await page_by_parent(conn, _BY_USER, user_ids, page, build_license)

    async def activate(
        self, principal: Principal | None, license_key: str | None, session_id: str | None
    ) -> Activation:
        """FLECS activation, in its order: a still-valid session is already active (204); else a
        licence key is activated; else the signed-in user's first free licence."""
        licenses = t.licenses
        async with self.engine.begin() as conn:
            session = await valid_session(conn, session_id)
            if session is not None:
                return Activation(session=session, license_key=None, already_active=True)

            if license_key and license_key.strip():
                row = (
                    (await conn.execute(select(licenses).where(licenses.c.key == license_key.strip().upper())))
                    .mappings()
                    .first()
                )
                # The contract answers every refusal of an activation with 403 (unknown key,
                # key in use, no licence left), and local mode answers as the API would.
                if row is None:
                    raise Forbidden("This license key is not valid.", field="licenseKey")
                # The caller's own (expired) session may be renewed; anyone else's may not.
                if row["session_id"] is not None and row["session_id"] != session_id:
                    raise Forbidden("This license is already active on another device.")
            elif principal is not None and principal.kind is TokenKind.USER and principal.user_id is not None:
                row = (
                    (
                        await conn.execute(
                            select(licenses)
                            .where(
                                licenses.c.user_id == principal.user_id,
                                licenses.c.session_id.is_(None),
                            )
                            # A licence not bound to a device first: that is what a
                            # "user licence" is; a bound but unused one only as a last resort.
                            .order_by(licenses.c.device_id.is_not(None), licenses.c.id)
                            .limit(1)
                        )
                    )
                    .mappings()
                    .first()
                )
                if row is None:
                    raise Forbidden("No user license available.")
            else:
                raise Forbidden("Sign in or give a license key: this session is not active.")

            now = utcnow()
            new_session = Session(id=new_session_id(), timestamp=int(now.timestamp()))
            result = await conn.execute(
                licenses.update()
                # Guarded on the session read above, so two devices racing for one licence
                # cannot both win it.
                .where(
                    licenses.c.id == row["id"],
                    licenses.c.session_id.is_(None)
                    if row["session_id"] is None
                    else licenses.c.session_id == row["session_id"],
                )
                .values(
                    session_id=new_session.id,
                    session_timestamp=new_session.timestamp,
                    activated_at=now,
                    valid_until=now + LICENSE_VALIDITY,
                )
            )
            if result.rowcount != 1:
                raise Forbidden("This license is already active on another device.")
        return Activation(session=new_session, license_key=row["key"], already_active=False)

    async def validate(self, session_id: str) -> tuple[bool, Session | None]:
        """Whether a licence holds the session and is still valid; the session when one holds it."""
        async with self.engine.connect() as conn:
            row = await _session_row(conn, session_id)
        if row is None:
            return False, None
        return _is_current(row, utcnow()), _session(row)

    async def register_device(
        self,
        principal: Principal,
        manufacturer_id: int,
        manufacturer_name: str,
        model: str,
        serial_number: str,
        manufacture_date: dt.date,
    ) -> Device:
        """`POST /device/license`: the caller's new device and a licence bound to it, together."""
        if principal.user_id is None:
            raise Unauthenticated("Sign in to register a device.")
        manufacturer_name, model, serial_number = (
            manufacturer_name.strip(),
            model.strip(),
            serial_number.strip(),
        )
        for field, value in (
            ("manufacturer.name", manufacturer_name),
            ("model", model),
            ("serial_number", serial_number),
        ):
            if not value:
                raise BadUserInput(f"{field} must not be blank", field=field)
        if manufacture_date > dt.datetime.now(dt.UTC).date():
            raise BadUserInput("manufacture_date must not be in the future", field="manufacture_date")

        now = utcnow()
        try:
            async with self.engine.begin() as conn:
                owner = exists().where(t.users.c.id == principal.user_id)
                if not (await conn.execute(select(owner))).scalar():
                    raise Unauthenticated("The signed-in user no longer exists.")
                taken = exists().where(t.devices.c.serial_number == serial_number)
                if (await conn.execute(select(taken))).scalar():
                    # The contract's answer to an unacceptable registration is 422.
                    raise BadUserInput(
                        "A device with this serial number is already registered.",
                        field="serial_number",
                    )
                device: dict[str, Any] = {
                    "id": await unused_device_id(conn),
                    "tenant_id": principal.tenant_id,
                    "store_id": None,
                    "till_id": None,
                    "name": model,
                    "app_type": DeviceAppType.UNKNOWN.value,
                    "status": DeviceStatus.ACTIVE.value,
                    "system_information": None,
                    "device_code": None,
                    "owner_id": principal.user_id,
                    "manufacturer_id": manufacturer_id,
                    "manufacturer_name": manufacturer_name,
                    "model": model,
                    "serial_number": serial_number,
                    "manufacture_date": manufacture_date,
                    "license_status": 0,
                    "created_at": now,
                    "last_modified_at": now,
                }
                await conn.execute(t.devices.insert().values(**device))
                await conn.execute(
                    t.licenses.insert().values(
                        key=await _unused_key(conn),
                        user_id=principal.user_id,
                        product_id=None,
                        device_id=device["id"],
                        created_at=now,
                    )
                )
        except IntegrityError:
            # Two registrations of one serial racing past the check: the unique index decides.
            raise BadUserInput(
                "A device with this serial number is already registered.", field="serial_number"
            ) from None
        return build_device(device)
