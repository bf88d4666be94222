"""The request's loaders: built on first use, batching and failing as dataloaders do, and freed with
the request without the cyclic GC."""

from __future__ import annotations

import asyncio
import gc
import weakref
from typing import Any

import pytest

from facade.loaders import ById, Loader, Loaders, _each


class Domain:
    """A backend domain whose every method answers nothing."""

    def __getattr__(self, name: str) -> Any:
        async def method(*args: Any, **kwargs: Any) -> dict[Any, Any]:
            return {}

        return method


class Backend:
    def __getattr__(self, name: str) -> Domain:
        return Domain()


def names() -> list[str]:
    return [
        name for name, value in vars(Loaders).items() if hasattr(value, "__set_name__") and not name.startswith("_")
    ]


async def test_a_request_builds_only_the_loaders_it_reads() -> None:
    loaders = Loaders(Backend())  # type: ignore[arg-type]

    assert loaders.store is loaders.store

    built = [name for name in names() if name in vars(loaders)]
    assert built == ["store"]
    assert len(names()) > 25


async def test_a_requests_loaders_are_freed_without_the_cyclic_gc() -> None:
    loaders = Loaders(Backend())  # type: ignore[arg-type]
    built = [getattr(loaders, name) for name in names()]
    assert all(isinstance(loader, Loader) for loader in built)
    freed = weakref.ref(loaders)
    some_loader = weakref.ref(built[0])
    gc.disable()
    try:
        del loaders, built
        assert freed() is None
        assert some_loader() is None
    finally:
        gc.enable()


class Recording:
    """A batch function that records each call's keys and answers key * 10 (an exception for
    the keys in `failing`, and raises for a batch holding `raising`)."""

    def __init__(self, failing: frozenset[int] = frozenset(), raising: int | None = None) -> None:
        self.calls: list[list[int]] = []
        self.failing = failing
        self.raising = raising

    async def __call__(self, keys: Any) -> dict[int, Any]:
        self.calls.append(list(keys))
        if self.raising in keys:
            raise RuntimeError("the backend failed")
        return {k: ValueError(f"no {k}") if k in self.failing else k * 10 for k in keys}


async def test_keys_loaded_in_the_same_turns_go_to_one_batch_call() -> None:
    fetch = Recording()
    loader = ById(fetch)
    first = loader.load(1)
    await asyncio.sleep(0)  # a key queued a turn later still joins the batch, as with aiodataloader
    second, again = loader.load(2), loader.load(1)

    assert await asyncio.gather(first, second, again) == [10, 20, 10]
    assert fetch.calls == [[1, 2]]
    assert again is first  # cached: the same future
    assert await loader.load(2) == 20
    assert fetch.calls == [[1, 2]]


async def test_a_failed_key_fails_alone_and_a_raising_batch_fails_its_keys_uncached() -> None:
    fetch = Recording(failing=frozenset({2}))
    loader = ById(fetch)
    answers = await asyncio.gather(loader.load(1), loader.load(2), return_exceptions=True)
    assert answers[0] == 10
    assert isinstance(answers[1], ValueError)

    fetch.raising = 3
    failed = await asyncio.gather(loader.load(3), loader.load(4), return_exceptions=True)
    assert all(isinstance(error, RuntimeError) for error in failed)
    fetch.raising = None
    assert await loader.load(4) == 40  # not cached: loaded again
    assert fetch.calls[-1] == [4]


async def test_a_cancelled_batch_cancels_the_loads_waiting_for_it() -> None:
    started = asyncio.Event()

    async def stuck(keys: Any) -> dict[int, Any]:
        started.set()
        await asyncio.sleep(3600)
        return {}

    loader = ById(stuck)
    waiting = loader.load(1)
    await started.wait()
    for task in asyncio.all_tasks():
        if task is not asyncio.current_task() and "_dispatch" in repr(task.get_coro()):
            task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(waiting, timeout=5)
    assert 1 not in loader.cache_map  # a later load asks again


async def test_a_load_cancelled_with_a_caller_that_awaited_it_is_loaded_again() -> None:
    """A task awaiting a loader's future takes the future with it when it is cancelled (the stage
    walker cancelled a round's loads when another failed): a later reader of that key, through
    `load` or `_each`, got CancelledError (a crashed request in the permission matrix, upstream).
    The key is loaded again instead."""
    fetch = Recording()
    loader = ById(fetch)

    async def read() -> Any:
        return await loader.load(1)

    reader = asyncio.ensure_future(read())
    await asyncio.sleep(0)
    reader.cancel()  # before the batch has answered: the cached future is cancelled with it
    with pytest.raises(asyncio.CancelledError):
        await reader
    assert loader.cache_map[1].cancelled()

    assert await loader.load(1) == 10
    assert await _each(loader, [1, 2]) == {1: 10, 2: 20}


async def test_each_reads_settled_keys_joins_pending_ones_and_queues_the_new_in_one_batch() -> None:
    fetch = Recording(failing=frozenset({3}))
    loader = ById(fetch)
    assert await loader.load(1) == 10  # settled
    pending = loader.load(2)  # queued, not yet loaded
    found = await _each(loader, [1, 2, 3, 4, 4, 2])

    assert found == {1: 10, 2: 20, 3: found[3], 4: 40}
    assert isinstance(found[3], ValueError)
    assert fetch.calls == [[1], [2, 3, 4]]  # the new keys joined the pending key's batch
    assert loader.cache_map[2] is pending
    with pytest.raises(TypeError):
        await _each(loader, [5, None])
