"""A request's deadline: the moment by which its whole response is to be sent.

The app starts one per GraphQL request (`FACADE_REQUEST_TIMEOUT` seconds from its arrival) and
lends it to everything that waits on the request's behalf: each upstream attempt is given at most
the time left, retries and Retry-After waits draw from the same budget, and the endpoint stops
waiting for the execution shortly after it (app.py). Times are `time.monotonic()` seconds, the
clock asyncio's loop runs on.

A leaf module: anyone may import it; it imports nothing of the project.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

__all__ = ["Deadline", "Overdue"]

T = TypeVar("T")


class Overdue(Exception):
    """The work `Deadline.finish` waited for was still running at the deadline (plus grace)."""


@dataclass(frozen=True, slots=True)
class Deadline:
    """`at`: the monotonic time (seconds) the budget ends; `seconds`: the budget it was given."""

    at: float
    seconds: float

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        """The deadline `seconds` from now."""
        return cls(at=time.monotonic() + seconds, seconds=seconds)

    def left(self) -> float:
        """Seconds left before the deadline; 0.0 once it has passed."""
        return max(0.0, self.at - time.monotonic())

    def covers(self, seconds: float) -> bool:
        """Whether `seconds` still fit before the deadline."""
        return self.at - time.monotonic() >= seconds

    async def finish(self, work: Coroutine[Any, Any, T], grace: float = 0.0) -> T:
        """`work`'s result, or Overdue once `grace` seconds past the deadline.

        The last resort for work that does not keep the deadline itself (a slow SQL read, whose
        cleanup may wait for the read): what does (upstream calls) has ended by then. The work
        runs as a task of its own, so an overdue one is cancelled and left to unwind on its own
        time, not waited for.
        """
        task = asyncio.ensure_future(work)
        try:
            done, _ = await asyncio.wait((task,), timeout=self.left() + grace)
        except asyncio.CancelledError:
            task.cancel()
            raise
        if not done:
            task.cancel()
            task.add_done_callback(_forget)
            raise Overdue(f"not finished {self.seconds:g} s after it began")
        return task.result()


def _forget(task: asyncio.Task[Any]) -> None:
    """Retrieves an abandoned task's outcome, so asyncio does not report it as never retrieved."""
    if not task.cancelled():
        task.exception()
