"""Batches that fan out to one upstream call per key (or per group of keys).

A batch read answers per key: when one of its calls fails, only the keys that call served carry
the error (an `Exception` in place of their value) and the rest are answered, so one store's 404
fails that store's products and not its siblings'. Loaders pass such a value on as that key's
error (`facade.loaders`).

A list an upstream cannot sort (or page) the way it is asked for is fetched whole, every page,
when it is short enough (`whole_list`), so facade sorts and pages it exactly, never just the page
it happened to fetch. Imports nothing of facade.
"""

from __future__ import annotations

import asyncio
import functools
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
    if len(wanted) == 1:  # one call (a batch of one chunk, the usual case): no task to run it in
        return {wanted[0]: await one(wanted[0])}
    return dict(zip(wanted, await asyncio.gather(*(one(k) for k in wanted)), strict=True))


class TooLong(Exception):
    """A list longer than the caller allows to be fetched whole; `total` is its length, or None
    when the upstream does not say."""

    def __init__(self, total: int | None) -> None:
        super().__init__(total)
        self.total = total


async def whole_list(
    fetch: Callable[[int], Awaitable[tuple[list[V], int | None]]],
    size: int,
    limit: int,
    concurrency: asyncio.Semaphore,
) -> list[V]:
    """Every item of a list an upstream serves in numbered pages (1-based) of `size`:
    `fetch(number)` answers a page and the list's length when the upstream says it (an upper
    bound is enough). Page 1 first, then the others at once; without a length, page after page
    until a short one. An upstream that ignores paging sends everything in page 1.

    Raises TooLong, after as few calls as can tell, for a list of more than `limit` items.
    """
    items, total = await fetch(1)
    if len(items) > size:
        if len(items) > limit:
            raise TooLong(len(items))
        return items
    if total is not None:
        if total > limit:
            raise TooLong(total)
        pages = -(-total // size)
        rest = await gather_limited(concurrency, [functools.partial(fetch, n) for n in range(2, pages + 1)])
        return items + [item for more, _ in rest for item in more]
    number = 1
    while len(items) == number * size:
        if len(items) >= limit:
            raise TooLong(None)
        number += 1
        more, _ = await fetch(number)
        items.extend(more)
    return items
