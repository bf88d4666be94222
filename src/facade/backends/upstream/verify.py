"""How upstream mode checks a token an API issued: the way that API allows, never with its
signing secret (which a real deployment does not have).

    API            token                        checked by                               principal from
    FLECS Console  user JWT                     JWKS (FACADE_FLECS_JWKS_URL) if set,     the JWT's claims, read
                                                else `POST /api/v2/auth/validate`        once FLECS said valid
    Flow Retail    accessToken                  JWKS (FACADE_FLOW_JWKS_URL) if set,      F1's device and tenant,
                                                else F1 `GET /device` with the token     the JWT's other claims
    Flow Retail    deviceToken                  JWKS if set, else F6 `GET /device/users` F6's tenant, the JWT's
                                                (one item) with the token                other claims
    facade         its own (an API in local     facade's key (TokenService)              its claims
                   mode: login, link there)

Which row applies is chosen from the token's unverified `kind` claim (`device`, `access`, else
user; a token that is not a JWT is put to Flow Retail as an access token, then as a device
token): a wrong claim only sends the token to a judge that refuses it. The claims of a JWT are
read only after its issuer (or its published key) has vouched for the token, and what the API
answers about the caller (F1's device and tenant) wins over them.

Verdicts are kept per process (`VerdictCache`): a valid token's principal until its `exp`, a
refusal for `FACADE_TOKEN_CACHE_SECONDS` (or until `exp`, if sooner), keyed by the token's SHA-256,
LRU-bounded by `FACADE_TOKEN_CACHE_SIZE`; concurrent checks of one token share one call. A failure
to get a verdict (the API unreachable, slow, rate-limiting) is not kept: the request's fields that
need a principal answer its code (UPSTREAM_ERROR, UPSTREAM_TIMEOUT, ...), public fields still
answer, and the next request asks again.

A verdict is kept for the token's life, so a token the API revokes before its expiry keeps
working in facade until then (or until it falls out of the cache); facade still refuses a token
whose user or device the directory no longer has (`Context.confirm_principal`). Tokens are never
logged, and only their digests are kept as keys.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

import jwt

from facade.auth import (
    LocalVerifier,
    Principal,
    TokenKind,
    TokenService,
    TokenVerifier,
    principal_of_claims,
    token_digest,
    unverified_claims,
)
from facade.backends.upstream.http import RequestScope
from facade.deadline import Deadline
from facade.errors import FacadeError, Forbidden, NotFound, Unauthenticated, UpstreamError
from facade.models import PageArgs
from facade.settings import Settings

log = logging.getLogger("facade.upstream")

__all__ = ["JwksKeys", "UpstreamVerifier", "VerdictCache", "verifier_for"]

# Asymmetric algorithms only: an HMAC "key" from a JWK Set would let anyone who read the set sign.
ASYMMETRIC = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES256K", "ES384", "ES512", "EdDSA"}
)
INVALID = "The token is not valid."
# Whom a token without a `sub` names, in facade's counters and logs: a digest, never the token.
ANONYMOUS_SUBJECT = "token:"


@dataclasses.dataclass(frozen=True, slots=True)
class Verdict:
    """A kept answer: the principal, or the refusal (Unauthenticated, Forbidden) to raise again."""

    principal: Principal | None
    refusal: FacadeError | None
    until: float  # time.time() after which it is not used


class VerdictCache:
    """Verdicts by token digest (LRU of `size`), each until its `until`; and the checks in flight,
    so that concurrent requests with one token wait for one call."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._kept: OrderedDict[str, Verdict] = OrderedDict()
        self._pending: dict[str, asyncio.Future[Verdict]] = {}

    def get(self, digest: str, now: float | None = None) -> Verdict | None:
        verdict = self._kept.get(digest)
        if verdict is None:
            return None
        if verdict.until <= (time.time() if now is None else now):
            del self._kept[digest]
            return None
        self._kept.move_to_end(digest)
        return verdict

    def put(self, digest: str, verdict: Verdict) -> None:
        self._kept[digest] = verdict
        self._kept.move_to_end(digest)
        while len(self._kept) > self.size:
            self._kept.popitem(last=False)

    async def once(self, digest: str, judge: Callable[[], Awaitable[Verdict]]) -> Verdict:
        """The kept verdict, or `judge()`'s, made once however many callers ask at the same time.
        A FacadeError of `judge` (no verdict) reaches every waiting caller and is not kept."""
        kept = self.get(digest)
        if kept is not None:
            return kept
        pending = self._pending.get(digest)
        if pending is None:
            pending = self._pending[digest] = asyncio.ensure_future(self._judged(digest, judge))
        return await asyncio.shield(pending)

    async def _judged(self, digest: str, judge: Callable[[], Awaitable[Verdict]]) -> Verdict:
        try:
            verdict = await judge()
            self.put(digest, verdict)
            return verdict
        finally:
            del self._pending[digest]

    def __len__(self) -> int:
        return len(self._kept)


class JwksKeys:
    """The keys an API publishes as a JWK Set at `url` (PyJWT's PyJWKClient: the set is fetched
    again after `lifetime` seconds; a token whose `kid` is not in the set fetches it once more,
    at most every 30 s). Only asymmetric algorithms are accepted, as the key's own."""

    def __init__(self, url: str, lifetime: float, timeout: float) -> None:
        self.url = url
        self.client = jwt.PyJWKClient(url, cache_jwk_set=True, lifespan=lifetime, timeout=timeout)

    async def claims(self, token: str) -> dict[str, Any]:
        """The verified claims (signature, `exp`, a `sub`). Unauthenticated for a token the keys
        do not verify; UpstreamError when the set cannot be fetched."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise Unauthenticated(INVALID) from None
        algorithm, kid = header.get("alg"), header.get("kid")
        if algorithm not in ASYMMETRIC or not isinstance(kid, str):
            raise Unauthenticated(INVALID)
        try:
            # The fetch is blocking (urllib): off the event loop. A known kid is served from the
            # cache, but the verdict cache in front makes this once per token anyway.
            key = await asyncio.to_thread(self.client.get_signing_key, kid)
        except jwt.PyJWKClientConnectionError:
            raise UpstreamError("The token keys could not be fetched.", upstream="JWKS") from None
        except jwt.PyJWKClientError as error:
            if str(error).startswith("Unable to find a signing key"):
                raise Unauthenticated(INVALID) from None  # no published key has its kid, even refetched
            raise UpstreamError("The token keys are not a usable JWK Set.", upstream="JWKS") from None
        except jwt.PyJWTError:
            raise UpstreamError("The token keys are not a usable JWK Set.", upstream="JWKS") from None
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=[algorithm],
                options={"require": ["exp", "sub"], "verify_aud": False},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("The token has expired; sign in again.") from None
        except jwt.PyJWTError:  # a bad signature, claims, or a key of another type than the algorithm
            raise Unauthenticated(INVALID) from None
        return claims


class UpstreamVerifier:
    """The `TokenVerifier` of upstream mode (the module docstring's table). `flecs` and `flow`
    are the API clients (None: that API is local, its tokens are facade's own)."""

    def __init__(
        self,
        settings: Settings,
        tokens: TokenService,
        *,
        flecs: Any = None,
        flow: Any = None,
    ) -> None:
        self.local = LocalVerifier(tokens)
        self.flecs = flecs
        self.flow = flow
        self.default_seconds = settings.token_cache_seconds
        self.cache = VerdictCache(settings.token_cache_size)
        timeout = settings.upstream_timeout
        self.flecs_keys = (
            JwksKeys(settings.flecs_jwks_url, settings.jwks_lifetime, timeout)
            if (flecs is not None and settings.flecs_jwks_url)
            else None
        )
        self.flow_keys = (
            self.flecs_keys  # one set, fetched once, where both APIs publish their keys at one URL
            if self.flecs_keys is not None and settings.flow_jwks_url == settings.flecs_jwks_url
            else JwksKeys(settings.flow_jwks_url, settings.jwks_lifetime, timeout)
            if (flow is not None and settings.flow_jwks_url)
            else None
        )

    async def verify(self, token: str, deadline: Deadline | None = None) -> Principal:
        verdict = await self.cache.once(token_digest(token), lambda: self._judge(token, deadline))
        if verdict.refusal is not None:
            raise verdict.refusal
        assert verdict.principal is not None
        return verdict.principal

    def known(self, token: str) -> Principal | None:
        verdict = self.cache.get(token_digest(token))
        return verdict.principal if verdict is not None else None

    async def _judge(self, token: str, deadline: Deadline | None) -> Verdict:
        claims = unverified_claims(token)
        exp = claims.get("exp")
        now = time.time()
        expires = float(exp) if isinstance(exp, int | float) and not isinstance(exp, bool) else None
        if expires is not None and expires <= now:
            # Refused whoever signed it: no call needed (and none is kept).
            return Verdict(None, Unauthenticated("The token has expired; sign in again."), now)
        try:
            principal = await self._principal(token, claims, deadline)
        except (Unauthenticated, Forbidden) as refusal:
            # Kept briefly: the same bad token sent again is refused without a call.
            until = now + self.default_seconds
            return Verdict(None, refusal, min(until, expires) if expires and expires > now else until)
        except FacadeError:
            raise  # no verdict (the judge unreachable, slow, ...): not kept
        except Exception as error:  # a judge's answer facade cannot read: no verdict, and never a 500
            log.error("a token check failed: %s", type(error).__name__)  # not the error's text: it may quote the token
            raise UpstreamError("The token could not be checked.") from None
        until = expires if expires is not None else now + self.default_seconds
        return Verdict(dataclasses.replace(principal, token=token), None, until)

    async def _principal(self, token: str, claims: dict[str, Any], deadline: Deadline | None) -> Principal:
        hint = claims.get("kind")
        if hint in (TokenKind.DEVICE.value, TokenKind.ACCESS.value) or not claims:
            if self.flow_keys is not None:
                return principal_of_claims(await self.flow_keys.claims(token), token)
            if self.flow is None:
                return self.local.tokens.verify(token)
            return await self._ask_flow(token, claims, hint, deadline)
        if self.flecs_keys is not None:
            return _user(principal_of_claims(await self.flecs_keys.claims(token), token))
        if self.flecs is None:
            return self.local.tokens.verify(token)
        valid = await self.flecs.bind(RequestScope(deadline=deadline)).users.validate_token(token)
        if not valid:
            raise Unauthenticated(INVALID)
        return _user(principal_of_claims(_flecs_claims(claims), token))

    async def _ask_flow(self, token: str, claims: dict[str, Any], hint: Any, deadline: Deadline | None) -> Principal:
        """Flow Retail, asked with the caller's own token who the caller is: F1 for an access
        token, F6 (one item) for a device token; a token that is not a JWT, one then the other."""
        scope = RequestScope({"authorization": f"Bearer {token}"}, deadline)
        devices = self.flow.bind(scope).devices
        base = principal_of_claims(claims, token) if claims.get("sub") is not None else None
        subject = ANONYMOUS_SUBJECT + token_digest(token)[:24]
        kinds = [TokenKind(hint)] if hint else [TokenKind.ACCESS, TokenKind.DEVICE]
        refusal: FacadeError = Unauthenticated(INVALID)
        for kind in kinds:
            placeholder = base or Principal(kind=kind, subject=subject)
            try:
                if kind is TokenKind.ACCESS:
                    device = await devices.current(placeholder)
                    return dataclasses.replace(
                        placeholder,
                        kind=kind,
                        device_id=device.id,
                        tenant_id=device.tenant_id or placeholder.tenant_id,
                    )
                users = await devices.users(placeholder, PageArgs(limit=1), None)
                tenant = next((u.tenant_id for u in users.items if u.tenant_id), None)
                return dataclasses.replace(placeholder, kind=kind, tenant_id=tenant or placeholder.tenant_id)
            except (Unauthenticated, Forbidden) as refused:
                refusal = refused
            except NotFound:
                refusal = Unauthenticated("The device of this token no longer exists; link it again.")
        raise refusal


def _flecs_claims(claims: dict[str, Any]) -> dict[str, Any]:
    """A FLECS JWT's claims with a `sub`: the console's WordPress JWTs name the user in
    `data.user.id`."""
    if claims.get("sub") is not None:
        return claims
    data = claims.get("data")
    user = data.get("user") if isinstance(data, dict) else None
    user_id = user.get("id") if isinstance(user, dict) else None
    return {**claims, "sub": user_id} if user_id is not None else claims


def _user(principal: Principal) -> Principal:
    """A FLECS token is a user token, whatever its claims say."""
    return principal if principal.kind is TokenKind.USER else dataclasses.replace(principal, kind=TokenKind.USER)


def verifier_for(settings: Settings, tokens: TokenService, backend: Any) -> TokenVerifier:
    """The verifier of a backend: `UpstreamVerifier` over a composed backend's FLECS and Flow
    Retail clients, facade's own key (`LocalVerifier`) over the local store."""
    from facade.backends.routes import FLECS, FLOW

    upstreams = getattr(backend, "upstreams", None)
    if not isinstance(upstreams, dict) or not (FLECS in upstreams or FLOW in upstreams):
        return LocalVerifier(tokens)
    return UpstreamVerifier(settings, tokens, flecs=upstreams.get(FLECS), flow=upstreams.get(FLOW))
