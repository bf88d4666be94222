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
    ├── UpstreamTimeout         UPSTREAM_TIMEOUT   an upstream did not answer in time (or by the deadline)
    ├── RequestTimeout          REQUEST_TIMEOUT    the request did not finish by its deadline (no data)
    ├── OperationNotDetermined  OPERATION_RESOLUTION_FAILURE  GraphQL's GetOperation failed (no
    │                                                  operationName for several operations, or an
    │                                                  unknown one); nothing ran
    └── RequestRefused          (HTTP status)      the HTTP request is refused before any GraphQL runs
        ├── BadRequest              BAD_REQUEST            400 not a well-formed GraphQL-over-HTTP request
        ├── DuplicateHeader         DUPLICATE_HEADER       400 a header facade reads as one value came twice
        ├── MethodNotAllowed        METHOD_NOT_ALLOWED     405 a mutation over GET, or another method
        ├── NotAcceptable           NOT_ACCEPTABLE         406 the Accept header names no type facade serves
        ├── PayloadTooLarge         PAYLOAD_TOO_LARGE      413 the body is over FACADE_MAX_BODY_BYTES
        ├── UriTooLong              URI_TOO_LONG           414 the URL is over FACADE_MAX_URL_BYTES
        └── UnsupportedMediaType    UNSUPPORTED_MEDIA_TYPE 415 no or an unsupported Content-Type

Any other exception is a bug: the graph masks it as INTERNAL_SERVER_ERROR and logs it server-side.
A leaf module: anyone may import it; it imports nothing of the project.
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "BadRequest",
    "BadUserInput",
    "Conflict",
    "DuplicateHeader",
    "FacadeError",
    "Forbidden",
    "MethodNotAllowed",
    "NotAcceptable",
    "NotFound",
    "OperationNotDetermined",
    "PayloadTooLarge",
    "RateLimited",
    "RequestRefused",
    "RequestTimeout",
    "Unauthenticated",
    "UnsupportedMediaType",
    "UpstreamError",
    "UpstreamTimeout",
    "UriTooLong",
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


class RequestTimeout(FacadeError):
    code = "REQUEST_TIMEOUT"


class OperationNotDetermined(FacadeError):
    """A request error of GraphQL's GetOperation: the document has several operations and no
    `operationName` was sent, or none has the name sent. Answered like a validation error."""

    code = "OPERATION_RESOLUTION_FAILURE"


class RequestRefused(FacadeError):
    """The HTTP request is refused before any GraphQL runs: answered with `status` (an HTTP 4xx)
    under either response media type, and with no `data`."""

    code = "BAD_REQUEST"
    status: ClassVar[int] = 400


class BadRequest(RequestRefused):
    code, status = "BAD_REQUEST", 400


class DuplicateHeader(RequestRefused):
    code, status = "DUPLICATE_HEADER", 400


class MethodNotAllowed(RequestRefused):
    code, status = "METHOD_NOT_ALLOWED", 405


class NotAcceptable(RequestRefused):
    code, status = "NOT_ACCEPTABLE", 406


class PayloadTooLarge(RequestRefused):
    code, status = "PAYLOAD_TOO_LARGE", 413


class UriTooLong(RequestRefused):
    code, status = "URI_TOO_LONG", 414


class UnsupportedMediaType(RequestRefused):
    code, status = "UNSUPPORTED_MEDIA_TYPE", 415
