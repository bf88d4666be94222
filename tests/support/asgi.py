"""Calling an ASGI app directly, below any HTTP client: the request scope, and a client that
hangs up halfway through its request body, as a caller that timed out does (facade dropping a
slow upstream call at its deadline, a browser closing the tab)."""

from __future__ import annotations

from typing import Any


def http_scope(method: str, path: str, headers: dict[str, str], host: str = "127.0.0.1") -> dict[str, Any]:
    """An HTTP request's ASGI scope (`headers` as sent: names in any case)."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": (host, 80),
        "state": {},
    }


async def hang_up(app: Any, path: str, headers: dict[str, str] | None = None) -> list[int]:
    """POSTs half of a declared 100-byte JSON body to `app` at `path`, then disconnects. Returns
    the statuses the app started to answer; raises whatever the app lets out, which the server
    would log as a crash (uvicorn: "Exception in ASGI application", with the traceback)."""
    messages: list[dict[str, Any]] = [
        {"type": "http.request", "body": b'{"constraints": [', "more_body": True},
        {"type": "http.disconnect"},
    ]

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    started: list[int] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            started.append(message["status"])

    sent = {"content-type": "application/json", "content-length": "100", **(headers or {})}
    scope = http_scope("POST", path, sent)
    await app(scope, receive, send)
    return started
