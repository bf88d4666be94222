"""Batches that fan out to one upstream call per key (or per group of keys).

A batch read answers per key: when one of its calls fails, only the keys that call served carry
the error (an `Exception` in place of their value) and the rest are answered, so one store's 404
fails that store's products and not its siblings'. Loaders pass such a value on as that key's
error (`facade.loaders`). Imports nothing of facade.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Iterable, Sequence
from typing import TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


async def gather_limited(limit: asyncio.Semaphore, calls: Sequence[Callable[[], Awaitable[V]]]) -> list[V]:
    """Runs the calls concurrently, at most as many at once as the semaphore allows; the first
    failure fails the whole (for calls that together make one answer)."""

    async def one(call: Callable[[], Awaitable[V]]) -> V:
        async with limit:
            return await call()

    return list(await asyncio.gather(*(one(c) for c in calls)))


async def each(
    limit: asyncio.Semaphore, keys: Iterable[K], call: Callable[[K], Awaitable[V]]
) -> dict[K, V | Exception]:
    """`{key: call(key)}` for the distinct keys, at most as many calls at once as the semaphore
    allows; a call that fails answers its key with the exception it raised."""

    async def one(key: K) -> V | Exception:
        async with limit:
            try:
                return await call(key)
            except Exception as error:  # noqa: BLE001 - the key's answer, raised where it is read
                return error

    wanted = list(dict.fromkeys(keys))
    return dict(zip(wanted, await asyncio.gather(*(one(k) for k in wanted)), strict=True))
