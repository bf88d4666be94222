"""The benchmark of issue 4: facade against a floor, a hand-written endpoint and a Node peer.

    python bench/run.py [--quick] [--duration S] [--warmup S] [--repeat N]

Everything runs on loopback and is stopped afterwards (process groups, try/finally):

- a seeded local store (``facade db seed --products 1200`` in a temporary folder), exported to
  ``data.json`` for the stub so that every variant answers from the same data;
- the upstream stub (``bench/stub/stub.js``, node:http, keep-alive): FLECS Console product lists
  and, for the references that have no local store, stores/users/reviews by id (``/ref/*``);
- the variants, one at a time, pinned to CPU 0 (``taskset``; the stub and wrk share CPU 1):
  ``facade-upstream`` (``FACADE_FLECS_URL`` = the stub: products from the stub, stores, owners and
  reviews from the local store, as upstream mode does), ``facade-local`` (the local store only),
  ``floor`` (precomputed bytes), ``hand`` (aiohttp + Starlette, no GraphQL), ``yoga``
  (graphql-yoga + dataloader over the stub; ``npm install`` runs once in ``bench/yoga``).

Each variant's answer to each workload is compared (parsed JSON) with facade-local's before it is
measured; a WARNING line is printed when they differ. Results go to ``bench/results/<ts>.json``
and ``.md``, and the table is printed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
VENV_BIN = Path(sys.executable).parent
SECRET = "bench-secret-bench-secret-bench-secret-0123"

LIST_QUERY = (
    "query Nested($first: Int) { products(first: $first) { nodes { id name price "
    "store { id name } owner { id displayName } "
    "reviews(first: 3, sortBy: CREATED_AT, sortDirection: DESC) { nodes { rating reviewer review } } } } }"
)
LOOKUP_QUERY = "query One($id: ID!) { product(id: $id) { id name price store { id name } owner { id displayName } } }"
# The nested list again, written with a named fragment and two variables; its answer has the list's
# shape, so the references serve it unchanged (hand reads `$reviews`, yoga runs it as GraphQL).
FRAGMENT_QUERY = (
    "query Cards($first: Int!, $reviews: Int!) { products(first: $first) { nodes { ...Card } } } "
    "fragment Card on Product { id name price store { id name } owner { id displayName } "
    "reviews(first: $reviews, sortBy: CREATED_AT, sortDirection: DESC) { nodes { rating reviewer review } } }"
)
# The signed-in user's devices with their licences and stores (`Authorization: Bearer`, a token
# from facade's `login` as alice). The stub has no devices: facade only.
AUTH_QUERY = "{ viewer { devices(first: 20) { nodes { id serialNumber license { key } store { name } } } } }"
LOGIN_QUERY = 'mutation { login(username: "alice", password: "facade-demo") { token } }'
# A write, as alice: every request adds a review. The product is outside the lists' first 1,000
# (ids are listed in order), so the list workloads measured later still see the same reviews;
# the selection leaves out id and createdAt so that every answer is the same.
MUTATION_QUERY = (
    "mutation Post($productId: ID!, $review: String!, $rating: Int!) { "
    "postReview(productId: $productId, review: $review, rating: $rating) { rating review reviewer } }"
)
FACADE = frozenset({"facade-local", "facade-upstream"})


@dataclass(frozen=True)
class Workload:
    name: str
    body: str  # the exact bytes wrk POSTs
    only: frozenset[str] | None = None  # the variants that can serve it (None: all); others get "n/a"
    auth: bool = False  # sent with `Authorization: Bearer <alice's token>`

    @property
    def write(self) -> bool:
        return self.body.startswith('{"query":"mutation')

    def serves(self, variant: str) -> bool:
        return self.only is None or variant in self.only


def workloads(quick: bool) -> list[Workload]:
    def body(query: str, variables: dict[str, Any]) -> str:
        return json.dumps({"query": query, "variables": variables}, separators=(",", ":"))

    sizes = [100] if quick else [10, 100, 1000]
    out = [Workload(f"list-{n}", body(LIST_QUERY, {"first": n})) for n in sizes]
    out.append(Workload("fragment-100", body(FRAGMENT_QUERY, {"first": 100, "reviews": 2})))
    if not quick:
        out.append(Workload("lookup", body(LOOKUP_QUERY, {"id": "7"})))
        out.append(Workload("auth-devices", body(AUTH_QUERY, {}), FACADE | {"floor"}, auth=True))
        review = {"productId": "1150", "review": "Benchmarked, still works.", "rating": 4}
        # facade-upstream sends postReview to FLECS, which the stub does not implement
        out.append(Workload("mutation", body(MUTATION_QUERY, review), frozenset({"facade-local"}), auth=True))
    return out


# --- pure helpers (tested in tests/test_bench.py) -------------------------------------------

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not m:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse_wrk(text: str) -> dict[str, float]:
    """req/s, p50/p99 (ms), request and error counts from `wrk --latency` output."""
    out: dict[str, float] = {"errors": 0.0, "non2xx": 0.0}
    m = re.search(r"Requests/sec:\s*([\d.]+)", text)
    if not m:
        raise ValueError("no Requests/sec in wrk output")
    out["rps"] = float(m.group(1))
    for pct, key in (("50", "p50_ms"), ("99", "p99_ms")):
        m = re.search(rf"^\s*{pct}(?:\.0+)?%\s+(\S+)", text, re.M)
        out[key] = _ms(m.group(1)) if m else float("nan")
    m = re.search(r"(\d+) requests in ([\d.]+)(\w+)", text)
    if m:
        out["requests"] = float(m.group(1))
    m = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", text)
    if m:
        out["non2xx"] = float(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if m:
        out["errors"] = float(sum(int(g) for g in m.groups()))
    m = re.search(r"GraphQL errors: (\d+)", text)  # from the script's done(), writes only
    if m:
        out["graphql_errors"] = float(m.group(1))
        out["errors"] += out["graphql_errors"]
    return out


# Counts answers carrying GraphQL errors (a write can fail under load with a 200); wrk then reads
# every body, so it is only used for writes.
_COUNT_ERRORS = """
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) gql_errors = 0 end
function response(status, headers, body)
  if body and string.find(body, '"errors"', 1, true) then gql_errors = gql_errors + 1 end
end
function done(summary, latency, requests)
  local n = 0
  for _, t in ipairs(threads) do n = n + (t:get("gql_errors") or 0) end
  io.write(string.format("GraphQL errors: %d\\n", n))
end
"""


def wrk_script(body: str, headers: dict[str, str] | None = None, count_errors: bool = False) -> str:
    """The Lua script that makes wrk POST one GraphQL body (with extra headers, if any)."""
    extra = "".join(f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}\n" for k, v in (headers or {}).items())
    if count_errors:
        extra += _COUNT_ERRORS
    return (
        f'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n{extra}wrk.body = {json.dumps(body)}\n'
    )


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


REFERENCES = ("floor", "hand", "yoga")


def add_ratios(rows: list[dict[str, Any]]) -> None:
    """`x_<ref>`: a row's req/s divided by the reference's, same workload and concurrency."""
    by = {(r["workload"], r["connections"], r["variant"]): r for r in rows}
    for r in rows:
        for ref in REFERENCES:
            other = by.get((r["workload"], r["connections"], ref))
            ok = r.get("rps") and other and other.get("rps")
            r[f"x_{ref}"] = r["rps"] / other["rps"] if ok else None


def render_table(rows: Sequence[dict[str, Any]]) -> str:
    head = (
        "| workload | conns | variant | req/s | p50 ms | p99 ms | errors | upstream calls/query "
        "| peak RSS MB | ×floor | ×hand | ×yoga | same answer |"
    )
    lines = [head, "|" + "---|" * 13]
    for r in rows:
        if r.get("na"):
            lines.append(f"| {r['workload']} | {r['connections']} | {r['variant']} | n/a |" + " – |" * 8 + " n/a |")
            continue
        lines.append(
            "| "
            + " | ".join(
                [
                    r["workload"],
                    str(r["connections"]),
                    r["variant"],
                    _fmt(r.get("rps")),
                    _fmt(r.get("p50_ms"), 2),
                    _fmt(r.get("p99_ms"), 2),
                    _fmt(int(r.get("errors", 0) + r.get("non2xx", 0))),
                    _fmt(r.get("upstream_calls")),
                    _fmt(r.get("peak_rss_mb")),
                    _fmt(r.get("x_floor"), 4),
                    _fmt(r.get("x_hand"), 2),
                    _fmt(r.get("x_yoga"), 2),
                    {True: "yes", False: "**NO**", None: "–"}[r.get("same")],
                ]
            )
            + " |"
        )
    return "\n".join(lines)


def same_json(a: Any, b: Any) -> bool:
    return a == b


# --- processes ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pinned(cmd: list[str], cpu: int | None) -> list[str]:
    if cpu is None or shutil.which("taskset") is None or (os.cpu_count() or 1) < 2:
        return cmd
    return ["taskset", "-c", str(cpu), *cmd]


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        if self.popen.poll() is not None:
            return
        try:
            os.killpg(self.popen.pid, signal.SIGTERM)
            self.popen.wait(timeout=10)
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=5)

    def peak_rss_mb(self) -> float | None:
        """The largest VmHWM in the process group (the server and any worker it spawned)."""
        best = None
        for pid in _group(self.popen.pid):
            try:
                text = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            m = re.search(r"VmHWM:\s+(\d+) kB", text)
            if m:
                best = max(best or 0.0, int(m.group(1)) / 1024)
        return best


def _group(pgid: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.getpgid(int(entry.name)) == pgid:
                    pids.append(int(entry.name))
            except OSError:
                pass
    return pids


class Processes:
    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.running: list[Proc] = []

    def start(self, name: str, cmd: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> Proc:
        log = self.logs / f"{name}.log"
        popen = subprocess.Popen(
            cmd,
            env={**os.environ, **(env or {})},
            cwd=cwd,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        proc = Proc(name, popen, log)
        self.running.append(proc)
        return proc

    def stop(self, proc: Proc) -> None:
        proc.stop()
        if proc in self.running:
            self.running.remove(proc)

    def stop_all(self) -> None:
        for proc in reversed(self.running):
            try:
                proc.stop()
            except Exception as exc:  # keep stopping the others
                print(f"could not stop {proc.name}: {exc}")
        self.running.clear()


def wait_ready(proc: Proc, url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise RuntimeError(f"{proc.name} exited: see {proc.log}\n{proc.log.read_text()[-2000:]}")
        try:
            with socket.create_connection(_addr(url), 0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{proc.name} did not start within {timeout:.0f} s: see {proc.log}")


def _addr(url: str) -> tuple[str, int]:
    parsed = urllib.request.urlparse(url)
    return parsed.hostname or "127.0.0.1", parsed.port or 80


def http(
    method: str, url: str, body: bytes | None = None, timeout: float = 60.0, headers: dict[str, str] | None = None
) -> Any:
    headers = {"Content-Type": "application/json", **(headers or {})}
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


# --- data ------------------------------------------------------------------------------------


def _iso(stamp: str) -> str:
    return stamp.replace(" ", "T")[:19]


def export(db: Path, out: Path) -> None:
    """The seeded store as the stub's data: products in FLECS's shape (with `store` and the
    non-contract `owner_id`/`date_created_gmt` facade reads when sent), and stores, users and
    reviews for the references' `/ref/*` reads."""
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    stores = {r["id"]: dict(r) for r in con.execute("select * from stores")}
    products = []
    for r in con.execute("select * from products order by id"):
        s = stores[r["store_id"]]
        products.append(
            {
                "id": r["id"],
                "name": r["name"],
                "status": r["status"],
                "description": r["description"],
                "short_description": r["short_description"],
                "average_rating": r["average_rating"],
                "rating_count": r["rating_count"],
                "categories": json.loads(r["categories"]),
                "attributes": json.loads(r["attributes"]),
                "meta_data": json.loads(r["meta_data"]),
                "stock_status": r["stock_status"],
                "store": {
                    "id": s["id"],
                    "name": s["name"],
                    "shop_name": s["shop_name"],
                    "url": s["url"],
                    "address": {k: s[k] for k in ("street_1", "street_2", "city", "zip", "country", "state")},
                },
                "permalink": r["permalink"],
                "price": r["price"],
                "purchasable": bool(r["purchasable"]),
                "owner_id": r["owner_id"],
                "date_created_gmt": _iso(r["created_at"]),
            }
        )
    users = [
        {"id": r["id"], "display_name": r["display_name"]} for r in con.execute("select id, display_name from users")
    ]
    reviews = [
        {k: r[k] for k in ("id", "product_id", "rating", "reviewer", "review", "created_at")}
        for r in con.execute("select * from reviews where status = 'approved'")
    ]
    con.close()
    data = {"products": products, "stores": [{"id": s["id"], "name": s["name"]} for s in stores.values()]}
    data.update(users=users, reviews=reviews)
    out.write_text(json.dumps(data))


# --- measuring -------------------------------------------------------------------------------


@dataclass
class Settings:
    quick: bool
    duration: int
    warmup: int
    repeat: int
    connections: list[int]
    wrk_cpu: int | None
    server_cpu: int | None
    tmp: Path
    results: list[dict[str, Any]] = field(default_factory=list)
    token: str | None = None  # alice's, from facade-local's `login`

    def headers(self, w: Workload) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if w.auth and self.token else {}


def run_wrk(s: Settings, url: str, script: Path, conns: int, seconds: int) -> str:
    cmd = pinned(
        ["wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--timeout", "30s", "--latency", "-s", str(script), url],
        s.wrk_cpu,
    )
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed: {done.stderr or done.stdout}")
    return done.stdout


def upstream_calls(stub: str, url: str, body: str, headers: dict[str, str]) -> int:
    time.sleep(0.2)  # let stragglers of the previous load finish
    http("POST", stub + "/__calls/reset", b"")
    http("POST", url, body.encode(), headers=headers)
    return int(http("GET", stub + "/__calls")["calls"])


def measure(
    s: Settings,
    variant: str,
    proc: Proc,
    url: str,
    loads: list[Workload],
    canonical: dict[str, Any],
    stub: str | None,
) -> None:
    for w in loads:
        if not w.serves(variant):
            for conns in s.connections:
                s.results.append({"workload": w.name, "connections": conns, "variant": variant, "na": True})
            print(f"  {variant:16} {w.name:9} n/a (cannot serve it identically)")
            continue
        headers = s.headers(w)
        answer = http("POST", url, w.body.encode(), headers=headers)
        same = same_json(answer, canonical[w.name])
        if not same:
            print(f"WARNING: {variant} answers {w.name} differently from facade-local: {json.dumps(answer)[:300]}")
        calls = upstream_calls(stub, url, w.body, headers) if stub else 0
        script = s.tmp / f"{w.name}.lua"
        script.write_text(wrk_script(w.body, headers, count_errors=w.write))
        for conns in s.connections:
            run_wrk(s, url, script, conns, s.warmup)
            runs = [parse_wrk(run_wrk(s, url, script, conns, s.duration)) for _ in range(s.repeat)]
            best = sorted(runs, key=lambda r: r["rps"])[len(runs) // 2]  # the median run
            row = {
                "workload": w.name,
                "connections": conns,
                "variant": variant,
                **best,
                "runs_rps": [r["rps"] for r in runs],
                "upstream_calls": calls,
                "same": same,
            }
            row["peak_rss_mb"] = proc.peak_rss_mb()
            s.results.append(row)
            print(
                f"  {variant:16} {w.name:9} c={conns:<3} {best['rps']:10,.1f} req/s  "
                f"p50 {best['p50_ms']:8.2f} ms  p99 {best['p99_ms']:8.2f} ms  calls {calls}"
            )


@contextmanager
def serving(ps: Processes, name: str, cmd: list[str], url: str, env: dict[str, str] | None = None) -> Iterator[Proc]:
    proc = ps.start(name, cmd, env)
    try:
        wait_ready(proc, url)
        yield proc
    finally:
        ps.stop(proc)


def uvicorn_cmd(app: str, port: int) -> list[str]:
    cmd = [str(VENV_BIN / "python"), "-m", "uvicorn", "--app-dir", str(BENCH), app]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--workers", "1", "--no-access-log", "--log-level", "warning"]
    for mod, flag in (("uvloop", ["--loop", "uvloop"]), ("httptools", ["--http", "httptools"])):
        try:
            __import__(mod)
            cmd += flag
        except ImportError:
            pass
    return cmd


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 items at 32 connections, short runs (< 2 min)")
    parser.add_argument("--duration", type=int, help="seconds per measurement (10; quick 4)")
    parser.add_argument("--warmup", type=int, help="seconds of warm-up before each measurement (3; quick 1)")
    parser.add_argument("--repeat", type=int, default=1, help="measurements per cell; the median is kept")
    parser.add_argument("--variants", help="comma-separated subset of the variants")
    parser.add_argument("--workloads", help="comma-separated subset of the workloads (e.g. auth-devices,mutation)")
    args = parser.parse_args(argv)

    for tool in ("wrk", "node", "npm"):
        if shutil.which(tool) is None:
            print(f"bench needs {tool} on PATH")
            return 2
    two = (os.cpu_count() or 1) >= 2 and shutil.which("taskset") is not None
    tmp = Path(tempfile.mkdtemp(prefix="facade-bench-"))
    s = Settings(
        quick=args.quick,
        duration=args.duration or (4 if args.quick else 10),
        warmup=args.warmup or (1 if args.quick else 3),
        repeat=max(1, args.repeat),
        connections=[32] if args.quick else [1, 32],
        wrk_cpu=1 if two else None,
        server_cpu=0 if two else None,
        tmp=tmp,
    )
    loads = workloads(args.quick)
    if args.workloads:
        picked = set(args.workloads.split(","))
        loads = [w for w in (workloads(False) + workloads(True)) if w.name in picked]
        loads = list({w.name: w for w in loads}.values())
    wanted = set(args.variants.split(",")) if args.variants else None
    started = time.monotonic()
    ps = Processes(tmp)
    facade = str(VENV_BIN / "facade")
    db = tmp / "bench.db"
    db_url = f"sqlite+aiosqlite:///{db}"
    base_env = {"FACADE_JWT_SECRET": SECRET, "FACADE_DATABASE_URL": db_url, "FACADE_SEED_ON_START": "false"}
    try:
        yoga_dir = BENCH / "yoga"
        if not (yoga_dir / "node_modules" / "graphql-yoga").is_dir():
            print("npm install in bench/yoga (once)")
            subprocess.run(["npm", "install", "--no-audit", "--no-fund"], cwd=yoga_dir, check=True, timeout=600)
        print(f"seeding 1,200 products into {db}")
        subprocess.run(
            [facade, "db", "migrate", "--database-url", db_url], check=True, timeout=120, env={**os.environ, **base_env}
        )
        subprocess.run(
            [facade, "db", "seed", "--products", "1200", "--database-url", db_url],
            check=True,
            timeout=300,
            env={**os.environ, **base_env},
            capture_output=True,
        )
        export(db, tmp / "data.json")

        stub_port = free_port()
        stub = f"http://127.0.0.1:{stub_port}"
        stub_proc = ps.start(
            "stub", pinned(["node", str(BENCH / "stub" / "stub.js"), str(tmp / "data.json"), str(stub_port)], s.wrk_cpu)
        )
        wait_ready(stub_proc, stub)
        script = tmp / "stub.lua"
        script.write_text("")
        stub_alone = parse_wrk(
            run_wrk(s, f"{stub}/api/v2/products?page=1&per_page=100", script, 32, max(2, s.duration // 2))
        )
        print(f"stub alone (GET a 100-product page, c=32, on the wrk core): {stub_alone['rps']:,.0f} req/s")

        def url(port: int) -> str:
            return f"http://127.0.0.1:{port}/graphql"

        def facade_cmd(port: int) -> list[str]:
            return pinned(
                [facade, "serve", "--workers", "1", "--host", "127.0.0.1", "--port", str(port), "--no-seed"],
                s.server_cpu,
            )

        canonical: dict[str, Any] = {}
        variants: list[tuple[str, list[str], dict[str, str], str | None]] = []
        port = free_port()
        # facade-local first: its answers are the ones every other variant must give.
        variants.append(("facade-local", facade_cmd(port), {**base_env, "FACADE_FLECS_URL": "local"}, None))
        variants.append(("facade-upstream", facade_cmd(port), {**base_env, "FACADE_FLECS_URL": stub}, stub))
        variants.append(
            (
                "floor",
                pinned(uvicorn_cmd("refs:floor", port), s.server_cpu),
                {"BENCH_ANSWERS": str(tmp / "answers.json")},
                None,
            )
        )
        variants.append(("hand", pinned(uvicorn_cmd("refs:hand", port), s.server_cpu), {"BENCH_UPSTREAM": stub}, stub))
        yoga_cmd = pinned(["node", str(yoga_dir / "server.js"), stub, str(port)], s.server_cpu)
        variants.append(("yoga", yoga_cmd, {}, stub))

        for name, cmd, env, upstream in variants:
            if wanted and name not in wanted and name != "facade-local":
                continue
            print(f"{name}:")
            with serving(ps, name, cmd, url(port), env) as proc:
                if name == "facade-local":
                    if any(w.auth for w in loads):
                        login = http("POST", url(port), json.dumps({"query": LOGIN_QUERY}).encode())
                        s.token = ((login.get("data") or {}).get("login") or {}).get("token")
                        if not s.token:
                            print(f"WARNING: login as alice failed: {login}")
                    for w in loads:
                        canonical[w.name] = http("POST", url(port), w.body.encode(), headers=s.headers(w))
                        if "errors" in canonical[w.name]:
                            print(f"WARNING: facade-local answers {w.name} with errors: {canonical[w.name]['errors']}")
                    (tmp / "answers.json").write_text(json.dumps({w.body: canonical[w.name] for w in loads}))
                    if wanted and name not in wanted:
                        continue
                measure(s, name, proc, url(port), loads, canonical, upstream)
    finally:
        ps.stop_all()

    add_ratios(s.results)
    table = render_table(s.results)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    out = BENCH / "results"
    out.mkdir(exist_ok=True)
    meta = {
        "mode": "quick" if s.quick else "full",
        "duration_s": s.duration,
        "warmup_s": s.warmup,
        "repeat": s.repeat,
        "pinned": s.server_cpu is not None,
        "cpus": os.cpu_count(),
        "stub_alone_rps": stub_alone["rps"],
        "python": sys.version.split()[0],
        "node": subprocess.run(["node", "--version"], capture_output=True, text=True, check=False).stdout.strip(),
        "elapsed_s": round(time.monotonic() - started, 1),
    }
    (out / f"{stamp}.json").write_text(json.dumps({"meta": meta, "rows": s.results}, indent=2))
    header = (
        f"# facade bench {stamp} ({meta['mode']}, {s.duration} s runs after {s.warmup} s warm-up, "
        f"{'facade/refs on CPU 0, stub+wrk on CPU 1' if meta['pinned'] else 'unpinned'}; "
        f"stub alone {stub_alone['rps']:,.0f} req/s)\n\n"
    )
    (out / f"{stamp}.md").write_text(header + table + "\n")
    print()
    print(header + table)
    print(f"\nwritten: {out / stamp}.json and .md ({meta['elapsed_s']} s)")
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
