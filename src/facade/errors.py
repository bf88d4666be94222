"""The errors a client can see, each with a stable code for `extensions.code`.

    FacadeError                 (code)
    ├── BadUserInput            BAD_USER_INPUT     invalid argument; nothing was written
    ├── Unauthenticated         UNAUTHENTICATED    no, expired or invalid credentials
    ├── Forbidden               FORBIDDEN          signed in, but not allowed (another tenant, not an admin)
    ├── NotFound                NOT_FOUND          the id names nothing (that the caller may see)
    ├── Conflict                CONFLICT           the request clashes with the current state
    ├── RateLimited             RATE_LIMITED       too many requests or attempts (retryAfter: seconds),
    │                                              or an upstream asked us to slow down
    ├── UpstreamError           UPSTREAM_ERROR     an upstream failed or answered nonsense
    └── UpstreamTimeout         UPSTREAM_TIMEOUT   an upstream did not answer in time

Any other exception is a bug: the graph masks it as INTERNAL_SERVER_ERROR and logs it server-side.
A leaf module: anyone may import it; it imports nothing of the project.
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "BadUserInput",
    "Conflict",
    "FacadeError",
    "Forbidden",
    "NotFound",
    "RateLimited",
    "Unauthenticated",
    "UpstreamError",
    "UpstreamTimeout",
]


class FacadeError(Exception):
    code: ClassVar[str] = "INTERNAL_SERVER_ERROR"

    def __init__(self, message: str, **extensions: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extensions = extensions


class BadUserInput(FacadeError):
    code = "BAD_USER_INPUT"


class Unauthenticated(FacadeError):
    code = "UNAUTHENTICATED"


class Forbidden(FacadeError):
    code = "FORBIDDEN"


class NotFound(FacadeError):
    code = "NOT_FOUND"


class Conflict(FacadeError):
    code = "CONFLICT"


class RateLimited(FacadeError):
    code = "RATE_LIMITED"


class UpstreamError(FacadeError):
    code = "UPSTREAM_ERROR"


class UpstreamTimeout(FacadeError):
    code = "UPSTREAM_TIMEOUT"
