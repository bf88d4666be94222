"""Credentials: password hashes, the tokens facade issues, and the principal a verified token
becomes. A leaf beside settings and errors: anyone may import it; it imports neither the graph nor
a backend.

Token kinds follow the APIs the graph fronts: a `user` token (FLECS login, Flow Retail authToken),
a `device` token (Flow Retail deviceToken, from linking a device) and an `access` token (Flow
Retail accessToken, a user signed in on a device).
"""

from __future__ import annotations

import base64
import datetime as dt
import enum
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

import jwt

from facade.errors import Unauthenticated
from facade.settings import Settings

# scrypt from the standard library: memory-hard, no extra dependency; parameters per OWASP.
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32)
    return "scrypt$" + base64.b64encode(salt).decode() + "$" + base64.b64encode(digest).decode()


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    candidate = hash_password(password, base64.b64decode(salt)).split("$")[2]
    return hmac.compare_digest(candidate, digest)


class TokenKind(enum.Enum):
    USER = "user"
    DEVICE = "device"
    ACCESS = "access"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: what a verified token says, nothing more."""

    kind: TokenKind
    subject: str
    user_id: int | None = None
    tenant_id: str | None = None
    is_tenant_admin: bool = False
    device_id: str | None = None
    token: str | None = None

    @property
    def is_user(self) -> bool:
        return self.kind is TokenKind.USER


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    expires: int


class TokenService:
    """Issues and verifies facade's tokens: HMAC with a pinned algorithm, expiry, issuer."""

    def __init__(self, settings: Settings) -> None:
        self._secret = settings.resolved_jwt_secret()
        self._algorithm = settings.jwt_algorithm
        self._issuer = settings.jwt_issuer
        self._ttl = settings.jwt_ttl_seconds

    def issue(
        self,
        kind: TokenKind,
        *,
        user_id: int | None = None,
        tenant_id: str | None = None,
        is_tenant_admin: bool = False,
        device_id: str | None = None,
        ttl_seconds: int | None = None,
    ) -> IssuedToken:
        now = dt.datetime.now(dt.UTC)
        expires = now + dt.timedelta(seconds=ttl_seconds or self._ttl)
        subject = str(user_id) if user_id is not None else f"device:{device_id}"
        claims: dict[str, Any] = {
            "iss": self._issuer,
            "sub": subject,
            "iat": int(now.timestamp()),
            "exp": int(expires.timestamp()),
            "kind": kind.value,
            "jti": secrets.token_hex(8),
        }
        if tenant_id is not None:
            claims["tenant"] = tenant_id
        if is_tenant_admin:
            claims["roles"] = ["TENANT.ADMIN"]
        if device_id is not None:
            claims["device"] = device_id
        token = jwt.encode(claims, self._secret, algorithm=self._algorithm)
        return IssuedToken(token=token, expires=int(expires.timestamp()))

    def verify(self, token: str) -> Principal:
        """The principal of a valid token; Unauthenticated (no detail leaked) for any other."""
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[self._algorithm],
                issuer=self._issuer,
                options={"require": ["exp", "iat", "sub", "iss"]},
            )
            kind = TokenKind(claims.get("kind", TokenKind.USER.value))
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("The token has expired; sign in again.") from None
        except (jwt.InvalidTokenError, ValueError):
            raise Unauthenticated("The token is not valid.") from None
        sub = str(claims["sub"])
        return Principal(
            kind=kind,
            subject=sub,
            user_id=int(sub) if sub.isdigit() else None,
            tenant_id=claims.get("tenant"),
            is_tenant_admin="TENANT.ADMIN" in claims.get("roles", ()),
            device_id=claims.get("device"),
            token=token,
        )


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, or None when there is none."""
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthenticated("The Authorization header must be `Bearer <token>`.")
    return value.strip()
