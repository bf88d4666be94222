"""The request's loaders: built on first use, and freed with the request without the cyclic GC."""

from __future__ import annotations

import gc
import weakref
from typing import Any

from facade.loaders import Loader, Loaders


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
