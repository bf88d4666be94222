"""Credentials: password hashes, the tokens facade issues, and the principal a verified token
becomes. A leaf beside settings and errors: anyone may import it; it imports neither the graph nor
a backend.

Token kinds follow the APIs the graph fronts: a `user` token (FLECS login, Flow Retail authToken),
a `device` token (Flow Retail deviceToken, from linking a device) and an `access` token (Flow
Retail accessToken, a user signed in on a device).

A `TokenVerifier` turns a request's token into its principal, once per request and
asynchronously (`Context.confirm_principal`): in local mode `LocalVerifier` over `TokenService`
(facade issued the token); in upstream mode one that asks the API that issued it
(`backends/upstream/verify.py`).
"""

from __future__ import annotations

import base64
import datetime as dt
import enum
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import jwt

from facade.deadline import Deadline
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
    """Issues and verifies facade's tokens: HMAC (or RS256 with `jwt_private_key_file`) with a
    pinned algorithm, expiry, issuer. With an RSA key the tokens carry a `kid` and `jwks()` is
    the public key as a JWK Set (what the sandbox publishes at /.well-known/jwks.json)."""

    def __init__(self, settings: Settings) -> None:
        self._algorithm = settings.jwt_algorithm
        self._issuer = settings.jwt_issuer
        self._ttl = settings.jwt_ttl_seconds
        self._headers: dict[str, Any] | None = None
        self._public: Any = None
        self._secret: Any
        if settings.jwt_algorithm == "RS256":
            self._secret, self._public, kid = _rsa_key(settings.jwt_private_key_file)
            self._headers = {"kid": kid}
        else:
            self._secret = settings.resolved_jwt_secret()

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
        token = jwt.encode(claims, self._secret, algorithm=self._algorithm, headers=self._headers)
        return IssuedToken(token=token, expires=int(expires.timestamp()))

    def verify(self, token: str) -> Principal:
        """The principal of a valid token; Unauthenticated (no detail leaked) for any other."""
        try:
            claims = jwt.decode(
                token,
                self._public if self._public is not None else self._secret,
                algorithms=[self._algorithm],
                issuer=self._issuer,
                options={"require": ["exp", "iat", "sub", "iss"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("The token has expired; sign in again.") from None
        except jwt.InvalidTokenError:
            raise Unauthenticated("The token is not valid.") from None
        return principal_of_claims(claims, token)

    def jwks(self) -> dict[str, Any]:
        """The public key as a JWK Set ({"keys": []} for an HMAC secret, which is never published)."""
        if self._public is None or self._headers is None:
            return {"keys": []}
        key = jwt.algorithms.RSAAlgorithm.to_jwk(self._public, as_dict=True)
        return {"keys": [{**key, "kid": self._headers["kid"], "alg": "RS256", "use": "sig"}]}


def _rsa_key(path: Path | None) -> tuple[Any, Any, str]:
    """(private key, public key, kid) from a PEM file; the kid is the start of the SHA-256 of
    the public key (DER)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    if path is None:
        raise ValueError("FACADE_JWT_ALGORITHM=RS256 needs FACADE_JWT_PRIVATE_KEY_FILE (a PEM RSA private key)")
    private = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(private, rsa.RSAPrivateKey):
        raise ValueError("FACADE_JWT_PRIVATE_KEY_FILE must hold an RSA private key")
    public = private.public_key()
    der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, public, hashlib.sha256(der).hexdigest()[:16]


# Users' ids are GraphQL Ints (models.INT32_MAX): a `sub` past them names nobody.
MAX_USER_ID = 2**31 - 1


def principal_of_claims(claims: dict[str, Any], token: str) -> Principal:
    """The principal that the claims of a token someone has vouched for stand for: `sub`,
    `kind` (default user), `tenant`, `roles` (TENANT.ADMIN), `device`. Unauthenticated when
    `sub` is missing or `kind` unknown."""
    try:
        kind = TokenKind(claims.get("kind", TokenKind.USER.value))
    except ValueError:
        raise Unauthenticated("The token is not valid.") from None
    sub = claims.get("sub")
    if sub is None or isinstance(sub, bool | dict | list):
        raise Unauthenticated("The token is not valid.")
    sub = str(sub)
    user_id = int(sub) if sub.isascii() and sub.isdigit() else None
    if user_id is not None and user_id > MAX_USER_ID:  # no user has it: the local store could not even look
        raise Unauthenticated("The token is not valid.")
    roles = claims.get("roles")
    tenant, device = claims.get("tenant"), claims.get("device")
    return Principal(
        kind=kind,
        subject=sub,
        user_id=user_id,
        tenant_id=tenant if isinstance(tenant, str) else None,
        is_tenant_admin=isinstance(roles, list) and "TENANT.ADMIN" in roles,
        device_id=device if isinstance(device, str) else None,
        token=token,
    )


def unverified_claims(token: str) -> dict[str, Any]:
    """The payload of a JWT, NOT verified ({} when the token is not a JWT): only for choosing
    who judges the token and how long a verdict is kept, or once the issuer has vouched for it."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False, "verify_exp": False})
    except jwt.InvalidTokenError:
        return {}
    return claims if isinstance(claims, dict) else {}


def token_digest(token: str) -> str:
    """What stands for a token in caches and counters: its SHA-256 (hex), never the token."""
    return hashlib.sha256(token.encode()).hexdigest()


class TokenVerifier(Protocol):
    """Turns a token into its principal (see the module docstring)."""

    async def verify(self, token: str, deadline: Deadline | None = None) -> Principal:
        """The token's principal. Unauthenticated when it is not valid; UpstreamError or
        UpstreamTimeout when the API that judges it does not answer (no principal, no verdict)."""
        ...

    def known(self, token: str) -> Principal | None:
        """The principal when it is known without a call (a local check, a cached verdict):
        what the rate limits count a request against. None otherwise, never a call."""
        ...


class LocalVerifier:
    """facade's own tokens, checked with its key (local mode: facade issued them)."""

    def __init__(self, tokens: TokenService) -> None:
        self.tokens = tokens

    async def verify(self, token: str, deadline: Deadline | None = None) -> Principal:
        return self.tokens.verify(token)

    def known(self, token: str) -> Principal | None:
        try:
            return self.tokens.verify(token)
        except Unauthenticated:
            return None


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, or None when there is none."""
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthenticated("The Authorization header must be `Bearer <token>`.")
    return value.strip()
