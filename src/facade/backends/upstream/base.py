"""What every API client is made of: domain parts built once, bound to each request.

An API client (`FlecsConsole`, `FlowRetail`) is an `ApiClient` holding one `ApiPart` per domain
it serves, built at start-up with what every request shares: the pooled `UpstreamClient`,
semaphores, payload readers, caches that outlive a request. `ApiClient.bind(scope)` is the API as
one request sees it (`ApiRequest`): the pooled client bound to the request's `RequestScope`
(headers, deadline, GET de-duplication) and, on first use of a domain, a shallow copy of its
part whose `client` is that bound client. Whatever else an API keeps per request (Flow Retail's
sightings) is a plain attribute of its `ApiRequest` subclass, dropped with the request; no
context variable carries upstream state.

Cost per request: the `ApiRequest` (two objects) when the request first calls the API, and one
copy of each part it uses. Imports http and payloads only.
"""

from __future__ import annotations

from typing import Any, ClassVar, Self

from facade.backends.upstream import payloads as p
from facade.backends.upstream.http import (
    DEFAULT_POLICY,
    ApiPolicy,
    BoundClient,
    RequestScope,
    UpstreamClient,
    UpstreamResponse,
)

__all__ = ["ApiClient", "ApiPart", "ApiRequest"]


class ApiRequest:
    """One API for one request: `client` (bound to `scope`), the domain parts bound on first use
    (`request.products`), and the API's per-request state in subclasses."""

    def __init__(self, api: ApiClient, scope: RequestScope) -> None:
        self.scope = scope
        self.client = api.upstream.bind(scope)
        self._api = api

    def __getattr__(self, domain: str) -> Any:
        part = getattr(self._api, domain)
        if not isinstance(part, ApiPart):
            raise AttributeError(domain)
        bound = part.bound(self)
        self.__dict__[domain] = bound  # later lookups find it without coming here
        return bound


class ApiPart:
    """One domain of an API. Built once; its methods run on `bound(request)` copies, whose
    `client` makes the request's calls. A part that keeps per-request state takes it from the
    request in `bound` (a reference to the request itself would make request and part a cycle,
    freed only by the cyclic GC)."""

    client: BoundClient

    def __init__(self, upstream: UpstreamClient) -> None:
        self.upstream = upstream
        self.api = upstream.api

    def bound(self, request: ApiRequest) -> Self:
        # A shallow copy without copy.copy's protocol (a fifth of the cost).
        part = object.__new__(type(self))
        part.__dict__.update(self.__dict__)
        part.client = request.client
        return part

    def read(self, model: type[p.M], response: UpstreamResponse) -> p.M:
        """The response's body as `model` (UpstreamError when it is not one)."""
        return p.parse(model, response.json(self.api), self.api)


class ApiClient:
    """An API's client: its domain parts (declared as class annotations, which the routing table
    is checked against) over one pooled `upstream`; `bind` per request. `policy` is what the
    API's `UpstreamClient` is built with (`compose`): which calls only read, which headers
    authorise them, how a refusal reads."""

    policy: ClassVar[ApiPolicy] = DEFAULT_POLICY

    def __init__(self, upstream: UpstreamClient) -> None:
        self.upstream = upstream

    def bind(self, scope: RequestScope) -> ApiRequest:
        return ApiRequest(self, scope)

    async def aclose(self) -> None:
        await self.upstream.aclose()
