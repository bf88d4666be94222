"""A client that hangs up before its request body has arrived (a timed-out caller, facade
dropping a slow upstream call at its deadline): Starlette raises ClientDisconnect from the body
read, and any exception left to the server is logged as a crash with its traceback. Both of
facade's Starlette apps (the GraphQL server and the sandbox) answer it here instead: nothing
to log, and nobody to answer. A leaf module: imports Starlette only.
"""

from __future__ import annotations

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

# nginx's "client closed request": never delivered, only what an access log would show.
CLIENT_CLOSED_REQUEST = 499


async def client_gone(request: Request, exc: Exception) -> Response:
    """The exception handler for ClientDisconnect: an empty 499, sent to no one."""
    return Response(b"", status_code=CLIENT_CLOSED_REQUEST)


HANDLERS = {ClientDisconnect: client_gone}
