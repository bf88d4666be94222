"""The nested store query of issue 11 at 10 and 100 items, in both modes: latency and the Afosto
calls it costs.

    .venv/bin/python bench/nested.py [--repeat 30] [--products 600]

Starts, on loopback, facade in local mode, `facade sandbox`, and facade in upstream mode with
FLECS, Flow Retail and Afosto all at the sandbox (each on a fresh SQLite store seeded with
`--products`). As alice (admin of acme-retail) with an Afosto token of acme-retail's Afosto
tenant, it asks

    tenant(tenantUid: "acme-retail") { stores(first: S) { nodes { salesChannels stockLocation
      stock(first: 5) products(first: P) { nodes { sku prices stock } } } } }

with S x P = 10 (2 x 5) and 100 (5 x 20) products, one request at a time after a warm-up, and
prints per mode and size the median and 90th percentile of the wall time (ms, client side), and
in upstream mode the calls the sandbox counted per request (by route). Numbers, not a test: the
machine's load moves them.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

QUERY = """query Nested($stores: Int!, $products: Int!) {
  tenant(tenantUid: "acme-retail") {
    stores(first: $stores) { nodes {
      name
      salesChannels { nodes { name type } }
      stockLocation { name }
      stock(first: 5) { nodes { sku available } }
      products(first: $products) { nodes {
        name sku
        prices { nodes { amount currency priceGroup { name } } }
        stock { nodes { available location { name } } }
      } }
    } }
  }
}"""
SIZES = ((10, 2, 5), (100, 5, 20))
SECRET = "bench-nested-sandbox-secret-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def started(args: list[str], env: dict[str, str], url: str) -> Iterator[None]:
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"{args[1]} exited with {proc.returncode}")
            try:
                httpx.get(url, timeout=1.0)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise SystemExit(f"{args[1]} did not answer at {url}") from None
                time.sleep(0.3)
        yield
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


CLIENT = httpx.Client(timeout=60.0)  # one keep-alive connection per server, as a frontend's


def post(url: str, body: Mapping[str, Any], headers: Mapping[str, str]) -> Any:
    answer = CLIENT.post(url, json=body, headers=headers)
    answer.raise_for_status()
    return answer.json()


def measure(url: str, headers: Mapping[str, str], repeat: int, sandbox: str | None) -> list[str]:
    lines = []
    for items, stores, products in SIZES:
        body = {"query": QUERY, "variables": {"stores": stores, "products": products}}
        first = post(url, body, headers)
        if first.get("errors"):
            raise SystemExit(f"errors at {items} items: {first['errors']}")
        for _ in range(3):
            post(url, body, headers)
        calls = ""
        if sandbox is not None:
            httpx.delete(f"{sandbox}/__sandbox/calls")
            post(url, body, headers)
            counted = httpx.get(f"{sandbox}/__sandbox/calls").json()["calls"]
            afosto = {k: v for k, v in counted.items() if " /afosto/" in k}
            listed = ", ".join(f"{k} {v}" for k, v in sorted(afosto.items()))
            calls = f"  Afosto calls {sum(afosto.values())}: {listed}"
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            post(url, body, headers)
            times.append((time.perf_counter() - start) * 1000)
        times.sort()
        p90 = times[min(len(times) - 1, int(len(times) * 0.9))]
        lines.append(f"{items:>4} items: median {statistics.median(times):6.1f} ms, p90 {p90:6.1f} ms{calls}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--products", type=int, default=600)
    args = parser.parse_args()
    facade = str(Path(sys.executable).parent / "facade")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from facade.sandbox.afosto_store import issue_token

    with tempfile.TemporaryDirectory() as tmp:
        base = {**os.environ, "FACADE_JWT_SECRET": SECRET}
        for name in ("FACADE_FLECS_URL", "FACADE_FLOW_URL", "FACADE_AFOSTO_URL"):
            base.pop(name, None)
        seed = ["--seed-products", str(args.products)]
        local_port, sandbox_port, upstream_port = free_port(), free_port(), free_port()
        local_env = {**base, "FACADE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/local.db"}
        sandbox_env = {**base, "FACADE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/sandbox.db"}
        sandbox = f"http://127.0.0.1:{sandbox_port}"
        upstream_env = {
            **base,
            "FACADE_JWT_SECRET": "bench-nested-facade-secret-0123456789abcdef",
            "FACADE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/upstream.db",
            "FACADE_FLECS_URL": sandbox,
            "FACADE_FLOW_URL": f"{sandbox}/v2",
            "FACADE_AFOSTO_URL": f"{sandbox}/afosto",
        }
        serve = [facade, "serve", "--host", "127.0.0.1", *seed]
        with (
            started([*serve, "--port", str(local_port)], local_env, f"http://127.0.0.1:{local_port}/health"),
            started(
                [facade, "sandbox", "--host", "127.0.0.1", "--port", str(sandbox_port), *seed],
                sandbox_env,
                f"{sandbox}/__sandbox/health",
            ),
            started([*serve, "--port", str(upstream_port)], upstream_env, f"http://127.0.0.1:{upstream_port}/health"),
        ):
            login = {"query": 'mutation { login(username: "alice", password: "facade-demo") { token } }'}
            for mode, port, db in (("local", local_port, "local"), ("upstream", upstream_port, "sandbox")):
                url = f"http://127.0.0.1:{port}/graphql"
                token = post(url, login, {})["data"]["login"]["token"]
                with sqlite3.connect(f"{tmp}/{db}.db") as conn:
                    (afosto_tenant,) = conn.execute(
                        "select afosto_tenant_id from afosto_tenant_links where tenant_id = 'acme-retail'"
                    ).fetchone()
                headers = {
                    "Authorization": f"Bearer {token}",
                    "X-Afosto-Authorization": f"Bearer {issue_token(SECRET, afosto_tenant)}",
                }
                print(f"{mode} mode ({args.repeat} requests each, one at a time):")
                for line in measure(url, headers, args.repeat, sandbox if mode == "upstream" else None):
                    print("  " + line)


if __name__ == "__main__":
    main()
