"""How fast each HTTP transport fetches from an upstream on loopback as concurrency rises.

    python bench/upstream_clients.py [--seconds 3] [--tasks 1 8 32 64]
    python bench/upstream_clients.py --layers [--rounds 15]

Starts a small JSON server (uvicorn, its own process) and runs K tasks, each making sequential
GETs through facade's UpstreamClient, once with httpx's own pool and once with the aiohttp
transport. Prints requests per second per (transport, K). Numbers vary by machine; compare the rows.

`--layers`: the CPU (this process's, in microseconds) a call costs at each layer of facade's
client, five calls at once as a batch of FLECS pages makes them, alternating rounds of 100
batches: aiohttp alone (a URL with its query, decoded with orjson), `AiohttpCalls.attempt`
(facade's transport: the query encoded, the budget, errors), and `BoundClient.get` (a request's
scope: the headers it forwards, the de-duplication of identical reads). Medians of the rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
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


async def layers(base: str, rounds: int) -> None:
    import aiohttp
    import orjson

    client = UpstreamClient("bench", base, HttpSettings(retries=0))
    assert client.aiohttp is not None
    transport = client.aiohttp
    session = aiohttp.ClientSession()
    ids = range(5)

    async def raw(i: int) -> None:
        async with session.get(f"{base}/users?id={i}&page=1") as response:
            orjson.loads(await response.read())

    async def attempt(i: int) -> None:
        answer = await transport.attempt("bench", 10.0, "GET", f"{base}/users", {"id": i, "page": 1}, {}, None)
        assert not isinstance(answer, Exception)
        answer.json("bench")

    async def bound(i: int) -> None:
        scope = RequestScope()
        (await client.bind(scope).get("/users", params={"id": i, "page": 1})).json("bench")

    ways = {"aiohttp alone": raw, "AiohttpCalls.attempt": attempt, "BoundClient.get": bound}
    spent: dict[str, list[float]] = {name: [] for name in ways}
    for lap in range(rounds + 1):  # the first lap warms up
        for name, way in ways.items():
            started = time.process_time()
            for _ in range(100):
                await asyncio.gather(*(way(i) for i in ids))
            if lap:
                spent[name].append((time.process_time() - started) * 1e6 / (100 * len(ids)))
    await session.close()
    await client.aclose()
    print("| layer | CPU per call (us) |")
    print("|---|---|")
    for name, values in spent.items():
        print(f"| {name} | {statistics.median(values):.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--tasks", type=int, nargs="+", default=[1, 8, 32, 64])
    parser.add_argument("--layers", action="store_true", help="CPU per call at each layer of facade's client")
    parser.add_argument("--rounds", type=int, default=15)
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
        if args.layers:
            asyncio.run(layers(base, args.rounds))
        else:
            asyncio.run(measure(base, args.tasks, args.seconds))
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
