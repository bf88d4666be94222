"""The sandbox on a loopback port in a thread of its own (its own event loop), for tests that
need facade in upstream mode: facade then reaches it over real HTTP, like the real APIs."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from dataclasses import dataclass

import httpx
import uvicorn

from facade.sandbox import create_sandbox_app
from facade.sandbox.afosto_store import issue_token
from facade.settings import Settings

HOST = "127.0.0.1"


@dataclass
class RunningSandbox:
    url: str
    server: uvicorn.Server
    thread: threading.Thread
    sock: socket.socket

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10.0)
        self.sock.close()


def start_sandbox(settings: Settings, timeout: float = 30.0) -> RunningSandbox:
    """Serves `settings.database_url` (already migrated and seeded) until `.stop()`."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((HOST, 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_sandbox_app(settings), log_level="warning", access_log=False, ws="none")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise AssertionError("the sandbox did not start")
        time.sleep(0.02)
    return RunningSandbox(url=f"http://{HOST}:{port}", server=server, thread=thread, sock=sock)


def afosto_token(settings: Settings, afosto_tenant_id: str) -> str:
    """An Afosto token the sandbox run with `settings` reads as `afosto_tenant_id`'s (what its
    `POST /iam/oauth/authorize` hands that tenant's OAuth client)."""
    return issue_token(settings.resolved_jwt_secret(), afosto_tenant_id)


class SandboxControl:
    """A running sandbox's control routes (`/__sandbox`): the faults it injects, the calls it got."""

    def __init__(self, url: str, transport: httpx.AsyncBaseTransport | None = None) -> None:
        # `transport`: an in-process sandbox app (local mode's Afosto emulation) instead of a socket.
        self.http = httpx.AsyncClient(base_url=url, timeout=10.0, transport=transport)

    async def faults(self, *rules: str) -> None:
        """Replaces the fault rules with `rules` (spec strings); none clears them."""
        await self.http.delete("/__sandbox/faults")
        if rules:
            response = await self.http.post("/__sandbox/faults", json=list(rules))
            assert response.status_code == 200, response.text

    async def calls(self) -> dict[str, int]:
        """The calls counted since the last look (per `METHOD /route/template`), then reset."""
        counted: dict[str, int] = (await self.http.get("/__sandbox/calls")).json()["calls"]
        await self.http.delete("/__sandbox/calls")
        return counted

    async def __aenter__(self) -> SandboxControl:
        await self.faults()
        await self.calls()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.faults()
        await self.http.aclose()
