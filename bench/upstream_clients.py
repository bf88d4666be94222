"""How fast each HTTP transport fetches from an upstream on loopback as concurrency rises.

    python bench/upstream_clients.py [--seconds 3] [--tasks 1 8 32 64]

Starts a small JSON server (uvicorn, its own process) and runs K tasks, each making sequential
GETs through facade's UpstreamClient, once with httpx's own pool and once with the aiohttp
transport. Prints requests per second per (transport, K). Numbers vary by machine; compare the rows.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import subprocess
import sys
import time

import httpx

from facade.backends.upstream.http import HttpSettings, RequestScope, UpstreamClient

SERVER = """
import orjson
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route
BODY = orjson.dumps({"statusCode": 200, "data": [{"id": i, "name": f"user {i}"} for i in range(50)]})
async def users(request):
    return Response(BODY, media_type="application/json")
app = Starlette(routes=[Route("/users", users)])
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def run(transport: str, tasks: int, seconds: float, base: str) -> float:
    client = UpstreamClient("bench", base, HttpSettings(transport=transport, retries=0))  # type: ignore[arg-type]
    done = 0
    stop = time.perf_counter() + seconds

    async def worker(n: int) -> None:
        nonlocal done
        i = 0
        while time.perf_counter() < stop:
            # A fresh scope: no de-duplication between calls.
            await client.bind(RequestScope()).get("/users", params={"id": f"{n}-{i}"})
            i += 1
            done += 1

    await asyncio.gather(*(asyncio.create_task(worker(n)) for n in range(tasks)))
    await client.aclose()
    return done / seconds


async def measure(base: str, tasks: list[int], seconds: float) -> None:
    print("| transport | " + " | ".join(f"K={k}" for k in tasks) + " |")
    print("|---|" + "---|" * len(tasks))
    for transport in ("httpx", "aiohttp"):
        rates = [await run(transport, k, seconds, base) for k in tasks]
        print(f"| {transport} | " + " | ".join(f"{r:,.0f}" for r in rates) + " |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--tasks", type=int, nargs="+", default=[1, 8, 32, 64])
    args = parser.parse_args()
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER + f"\nimport uvicorn; uvicorn.run(app, port={port}, log_level='warning')"]
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                httpx.get(base + "/users")
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        asyncio.run(measure(base, args.tasks, args.seconds))
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
