"""Rate limits: how many requests a caller may send, and how many times anyone may try a secret
(a password, a pairing code, a licence key). Counted with the `limits` library.

    counted                     per                                   setting (default)
    requests                    principal: a verified token's `sub`   rate_limit_per_principal (1200/minute)
    requests                    client address, without a valid token rate_limit_per_address (600/minute)
    attempts at a secret        account: username, device code, ...   login_attempts_per_username (5/minute)
    attempts at a secret        client address                        login_attempts_per_address (30/minute)

Requests are counted with a sliding-window counter (two counters per key, whatever the rate).
Attempts are counted with a moving window (each attempt's time is kept), which is exact: a locked
account stays locked until its oldest attempt is a window old. An attempt is counted *before* the
secret is checked, so concurrent or aliased attempts cannot overtake the count; a successful one
then clears its account's count (the account's count is of failures since the last success). The
address count keeps every attempt, so an attacker's own successful sign-ins cannot reset it.

Counts live in process memory, or in Redis when `redis_url` is set so that every worker and
instance shares them. While Redis does not answer, counting goes on in process memory (each limit
then holds per process) and Redis is tried again after a few seconds: failing open would lift the
brute-force limits just when the shared store is down, failing closed would stop every request and
sign-in for an outage of a store that holds nothing but counters.

A refusal is `RateLimited` (RATE_LIMITED) with `retryAfter`, whole seconds until a retry can
succeed. Identifiers are stored as keyed hashes, so neither usernames, codes nor addresses reach
Redis in clear.

A leaf beside settings and errors: it imports neither the graph nor a backend.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import logging
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import coredis
from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter, RateLimiter, SlidingWindowCounterRateLimiter
from limits.errors import StorageError
from limits.storage import storage_from_string

from facade.errors import RateLimited
from facade.settings import Settings

__all__ = ["Attempt", "RateLimits", "address_key"]

log = logging.getLogger("facade.ratelimit")

T = TypeVar("T")

# A Redis call that takes longer than this counts as Redis being down (a blackholed server would
# otherwise hold every request for coredis's retries); after a failure Redis is left alone for
# SHARED_RETRY_SECONDS, so an outage costs one slow request per worker, not one per request.
SHARED_TIMEOUT_SECONDS = 0.5
SHARED_RETRY_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class Attempt:
    """A counted try at a secret: what `RateLimits.succeeded` clears."""

    account: tuple[str, ...] | None


@dataclass(frozen=True, slots=True)
class _Counters:
    requests: RateLimiter
    attempts: RateLimiter


def _memory_counters() -> _Counters:
    # Two stores: the memory store sweeps expired moving-window entries one key at a time on
    # every hit, and request counters (one per caller) must not pay for that sweep.
    return _Counters(
        requests=SlidingWindowCounterRateLimiter(MemoryStorage()),
        attempts=MovingWindowRateLimiter(MemoryStorage()),
    )


def _async_uri(url: str) -> str:
    """`redis://host:6379/0` (as everyone writes it) in the form `limits` wants for asyncio."""
    return url if url.startswith("async+") else "async+" + url


def address_key(host: str | None) -> str:
    """The client an address stands for: an IPv4 address, or an IPv6 address's /64 network
    (one subscriber usually holds a whole /64, so counting single IPv6 addresses counts nothing)."""
    if not host:
        return "unknown"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


class RateLimits:
    """The rate limits of one app: built from the settings, closed by the app's lifespan.

    `check_request` counts a request; `attempt` counts a try at a secret and `succeeded` clears
    its account's failures. Both raise `RateLimited` with `retryAfter` (seconds) when a limit is spent.
    """

    def __init__(self, settings: Settings) -> None:
        self._per_principal = parse_many(settings.rate_limit_per_principal)
        self._per_address = parse_many(settings.rate_limit_per_address)
        self._attempts_per_account = parse_many(settings.login_attempts_per_username)
        self._attempts_per_address = parse_many(settings.login_attempts_per_address)
        # Keyed, so that a reader of Redis cannot test guesses of a code against its hash.
        self._key = hashlib.sha256(b"facade-ratelimit:" + settings.resolved_jwt_secret().encode()).digest()
        self._local = _memory_counters()
        self._storage: Storage | None = None
        self._pool: coredis.ConnectionPool | None = None
        self._shared: _Counters | None = None
        self._shared_down_until = 0.0
        if settings.redis_url:
            # Our own pool, so that aclose can close it (limits' storages have no close).
            self._pool = coredis.ConnectionPool.from_url(
                settings.redis_url.removeprefix("async+"),
                connect_timeout=SHARED_TIMEOUT_SECONDS,
                stream_timeout=SHARED_TIMEOUT_SECONDS,
            )
            storage = storage_from_string(
                _async_uri(settings.redis_url),
                key_prefix=settings.rate_limit_key_prefix,
                wrap_exceptions=True,
                # A documented option of RedisStorage that limits' annotation of **options leaves out.
                connection_pool=self._pool,  # type: ignore[arg-type]
            )
            assert isinstance(storage, Storage)
            self._storage = storage
            self._shared = _Counters(
                requests=SlidingWindowCounterRateLimiter(storage),
                attempts=MovingWindowRateLimiter(storage),
            )

    @property
    def shared(self) -> bool:
        """Whether counts go to Redis (shared by every worker and instance)."""
        return self._shared is not None

    async def check(self) -> bool:
        """Whether the shared store answers (True for memory)."""
        if self._storage is None:
            return True
        try:
            async with asyncio.timeout(SHARED_TIMEOUT_SECONDS):
                return bool(await self._storage.check())
        except (StorageError, TimeoutError, OSError):
            return False

    async def aclose(self) -> None:
        """Closes the connections to Redis (nothing to close for memory)."""
        if self._pool is not None:
            self._pool.disconnect()

    async def reset(self) -> None:
        """Forget every count (in Redis: every key under `rate_limit_key_prefix`)."""
        self._local = _memory_counters()
        if self._storage is not None:
            await self._storage.reset()

    async def check_request(self, subject: str | None, address: str) -> None:
        """Count one request: against its principal's limit when it carries a valid token
        (`subject`), else against its address's. Raises RateLimited when the limit is spent."""
        if subject is not None:
            items, ids = self._per_principal, ("principal", self._digest(subject))
        else:
            items, ids = self._per_address, ("address", self._digest(address))
        wait = await self._use(lambda c: _hit(c.requests, items, ids))
        if wait is not None:
            raise RateLimited(f"Too many requests; retry in {wait} s.", retryAfter=wait)

    async def attempt(self, kind: str, account: str | None, address: str) -> Attempt:
        """Count one try at a secret, before it is checked.

        `kind` names the secret (`login`, `linkDevice`, ...), `account` what it unlocks (the
        username; None where a guess names nothing, e.g. a licence key). Raises RateLimited when the
        address or the account has no tries left; the secret must then not be checked. Call
        `succeeded` when the secret was right.
        """
        by_address = ("attempt", "address", self._digest(address))
        by_account = None if account is None else ("attempt", kind, self._digest(account.strip().casefold()))

        async def hit(c: _Counters) -> int | None:
            wait = await _hit(c.attempts, self._attempts_per_address, by_address)
            if wait is None and by_account is not None:
                wait = await _hit(c.attempts, self._attempts_per_account, by_account)
            return wait

        wait = await self._use(hit)
        if wait is not None:
            raise RateLimited(f"Too many attempts; retry in {wait} s.", retryAfter=wait)
        return Attempt(by_account)

    async def succeeded(self, attempt: Attempt) -> None:
        """The secret was right: the account's count of failures starts again."""
        ids = attempt.account
        if ids is not None:
            await self._use(lambda c: _clear(c.attempts, self._attempts_per_account, ids))

    def _digest(self, value: str) -> str:
        return hmac.new(self._key, value.encode(), hashlib.blake2b).hexdigest()[:32]

    async def _use(self, op: Callable[[_Counters], Awaitable[T]]) -> T:
        if self._shared is not None and time.monotonic() >= self._shared_down_until:
            try:
                async with asyncio.timeout(SHARED_TIMEOUT_SECONDS):
                    return await op(self._shared)
            except (StorageError, TimeoutError, OSError) as err:
                self._shared_down_until = time.monotonic() + SHARED_RETRY_SECONDS
                # The error's type only: a message could carry the URL and its password.
                log.warning(
                    "rate limits: Redis did not answer (%s); counting in process memory for %.0f s",
                    type(err).__name__,
                    SHARED_RETRY_SECONDS,
                )
        return await op(self._local)


async def _hit(limiter: RateLimiter, items: Sequence[RateLimitItem], ids: Sequence[str]) -> int | None:
    """Count one hit against every item; None when all allow it, else the seconds to wait."""
    for item in items:
        if not await limiter.hit(item, *ids):
            stats = await limiter.get_window_stats(item, *ids)
            return max(1, math.ceil(stats.reset_time - time.time()))
    return None


async def _clear(limiter: RateLimiter, items: Sequence[RateLimitItem], ids: Sequence[str]) -> None:
    for item in items:
        await limiter.clear(item, *ids)
