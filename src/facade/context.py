"""The per-request context: who is calling (the principal of a verified token), the request's
loaders, and the backend for writes. Built by the app for each request, never shared: the app
puts the request's raw token in `token`, and `confirm_principal` (awaited once before anything
runs) has the `verifier` turn it into `principal`, or `auth_error`.

Reads go through `loaders` (batched, de-duplicated); writes go straight to `backend` (a write is
one call, there is nothing to batch). May import loaders, backends' interfaces, auth, settings.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from facade.auth import Principal, TokenVerifier
from facade.backends.interfaces import Backend
from facade.deadline import Deadline
from facade.errors import FacadeError, Forbidden, RateLimited, Unauthenticated
from facade.loaders import Loaders
from facade.models import DeviceStatus
from facade.ratelimit import RateLimits
from facade.settings import Settings


@dataclass(slots=True)
class Context:
    settings: Settings
    backend: Backend
    loaders: Loaders
    principal: Principal | None = None
    # A token that was sent but failed verification (or whose user or device is gone): fields
    # that need a principal report this reason; public fields still answer.
    auth_error: Exception | None = None
    session_id: str | None = None
    request: Any = None
    # The request's bearer token, not yet verified, and who verifies it (auth.TokenVerifier).
    token: str | None = None
    verifier: TokenVerifier | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    # When the whole response is due (FACADE_REQUEST_TIMEOUT from the request's arrival); the
    # upstream calls of the request end by it.
    deadline: Deadline | None = None
    # Rate limits of the app, and the client they count this request against (ratelimit.py).
    limits: RateLimits | None = None
    client_address: str = "unknown"

    async def principal_of(self, token: str) -> Principal | None:
        """The principal a token stands for, when its verifier vouches for it (facade's key, or
        the API that issued it: one call, whose verdict is kept for the token's life); None
        when it does not or cannot say."""
        if self.verifier is None:
            return None
        try:
            return await self.verifier.verify(token, self.deadline)
        except FacadeError:
            return None

    @contextlib.asynccontextmanager
    async def attempt(self, kind: str, account: str | None) -> AsyncIterator[None]:
        """Wraps the check of a secret (a password, a pairing code): counted per account and per
        address before the body runs; RateLimited (and a Retry-After header) instead of the body
        when either is spent. When the body returns, the account's failures are cleared."""
        if self.limits is None:
            yield
            return
        try:
            attempt = await self.limits.attempt(kind, account, self.client_address)
        except RateLimited as refused:
            wait = max(int(refused.extensions["retryAfter"]), int(self.response_headers.get("Retry-After", 0)))
            self.response_headers["Retry-After"] = str(wait)
            raise
        yield
        await self.limits.succeeded(attempt)

    async def confirm_principal(self) -> None:
        """Once per request, before anything runs: the request's token is verified (by facade's
        key, or by the API that issued it; see auth.TokenVerifier), then a valid token whose user
        no longer exists, or whose device was deleted, is refused everywhere (UNAUTHENTICATED),
        and a token of a BLOCKED device too (FORBIDDEN), as if no principal had been sent: public
        fields still answer. A verifier that cannot say (the API unreachable) leaves its error
        (UPSTREAM_ERROR, UPSTREAM_TIMEOUT) to the fields that need a principal. One load per key
        through the request's loaders, which keep the records."""
        if self.token is not None and self.principal is None and self.auth_error is None and self.verifier:
            try:
                self.principal = await self.verifier.verify(self.token, self.deadline)
            except FacadeError as error:
                self.auth_error = error
                return
        principal = self.principal
        if principal is None:
            return
        loaders = self.loaders
        try:
            user, device = await asyncio.gather(
                loaders.user.load(principal.user_id) if principal.user_id is not None else _nothing(),
                loaders.device.load(principal.device_id) if principal.device_id is not None else _nothing(),
            )
        except Exception as error:  # noqa: BLE001 - not knowing who calls refuses the call, for that reason
            self.principal, self.auth_error = None, error
            return
        if user is None:
            self.principal = None
            self.auth_error = Unauthenticated("The signed-in user no longer exists; sign in again.")
        elif device is None:
            self.principal = None
            self.auth_error = Unauthenticated("The device of this token no longer exists; link it again.")
        elif device is not ... and getattr(device, "status", None) is DeviceStatus.BLOCKED:
            self.principal = None
            self.auth_error = Forbidden("This device is blocked.")

    def require_principal(self) -> Principal:
        if self.principal is not None:
            return self.principal
        if self.auth_error is not None:
            raise self.auth_error
        raise Unauthenticated("Sign in: send `Authorization: Bearer <token>` from the login mutation.")


async def _nothing() -> Any:
    """Nothing to confirm (an ellipsis, not None, which means "gone")."""
    return ...
