"""The benchmark of issue 4: facade against a floor, a hand-written endpoint and a Node peer.

    python bench/run.py [--quick] [--duration S] [--warmup S] [--repeat N] [--soak S]

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
measured; a WARNING line is printed when they differ. Each cell is measured ``--repeat`` times (3;
quick 1) and the median run kept, with the spread of req/s. After the table, the issue's targets
are checked against the rows of the same run. ``--soak S`` then restarts facade-local and
facade-upstream and loads list-100 at 32 connections for S seconds, sampling the server's RSS.
Results go to ``bench/results/<ts>.json`` and ``.md``, and both are printed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
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


def spread(runs: Sequence[float]) -> dict[str, Any]:
    """Repeated req/s of one cell: the extremes and `spread_pct`, half their range over the
    median (so a cell reads `median ± spread_pct %`); None for a single run."""
    ordered = sorted(runs)
    median = ordered[len(ordered) // 2]  # a run that happened (the upper one of an even count)
    half = (ordered[-1] - ordered[0]) / 2
    pct = 100 * half / median if len(ordered) > 1 and median else None
    return {"rps_min": ordered[0], "rps_max": ordered[-1], "spread_pct": pct}


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
        "| workload | conns | variant | req/s | ±% | p50 ms | p99 ms | errors | upstream calls/query "
        "| peak RSS MB | ×floor | ×hand | ×yoga | same answer |"
    )
    lines = [head, "|" + "---|" * 14]
    for r in rows:
        if r.get("na"):
            lines.append(f"| {r['workload']} | {r['connections']} | {r['variant']} | n/a |" + " – |" * 9 + " n/a |")
            continue
        pct = r.get("spread_pct")
        lines.append(
            "| "
            + " | ".join(
                [
                    r["workload"],
                    str(r["connections"]),
                    r["variant"],
                    _fmt(r.get("rps")),
                    "–" if pct is None else f"±{pct:.1f}",
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


# The targets of issue 4, checked on the rows of one run (all at 32 connections, "under load").
TARGET_X_YOGA = 3.0  # list-100 (and fragment, authenticated): req/s at least 3 × yoga's
TARGET_COST_1000 = 8.0  # a list-1000 request costs at most 8 list-100 requests
TARGET_P99_1000 = 0.2  # list-1000 p99 at most a fifth of yoga's
FLECS_PAGE = 100  # FLECS (WooCommerce) pages hold at most 100 products


def min_upstream_calls(workload: str) -> int | None:
    """The fewest stub calls facade-upstream can make for a list workload: one product page per
    100 items (stores, owners and reviews come from the local store); None for the others."""
    m = re.fullmatch(r"(?:list|fragment)-(\d+)", workload)
    return math.ceil(int(m.group(1)) / FLECS_PAGE) if m else None


def _verdict(met: bool | None) -> str:
    return {True: "met", False: "**not met**", None: "n/a"}[met]


def targets(rows: Sequence[dict[str, Any]], conns: int = 32) -> list[dict[str, Any]]:
    """Each target of issue 4 this run has the rows for, per facade variant: `target`, `measured`,
    `goal` (text) and `met` (None: cannot be judged here)."""
    by = {(r["workload"], r["variant"]): r for r in rows if r["connections"] == conns and r.get("rps")}
    out: list[dict[str, Any]] = []

    def add(variant: str, target: str, measured: str, goal: str, met: bool | None) -> None:
        out.append({"variant": variant, "target": target, "measured": measured, "goal": goal, "met": met})

    def x(name: str, v: str, ref: str) -> float | None:
        mine, other = by.get((name, v)), by.get((name, ref))
        return mine["rps"] / other["rps"] if mine and other else None

    for v in sorted(FACADE):
        l100, y100 = by.get(("list-100", v)), by.get(("list-100", "yoga"))
        l1000, y1000 = by.get(("list-1000", v)), by.get(("list-1000", "yoga"))
        x100 = x("list-100", v, "yoga")
        if x100 is not None and l100 and y100:
            add(v, f"list-100 c={conns} req/s ×yoga", f"{x100:.2f}", f"≥ {TARGET_X_YOGA:g}", x100 >= TARGET_X_YOGA)
            measured = f"{l100['p99_ms']:,.0f} vs {y100['p99_ms']:,.0f} ms"
            add(v, f"list-100 c={conns} p99 vs yoga's", measured, "≤ yoga's", l100["p99_ms"] <= y100["p99_ms"])
        if l100 and l1000:
            cost = l100["rps"] / l1000["rps"]
            goal = f"≤ {TARGET_COST_1000:g}"
            add(v, f"list-1000 cost ÷ list-100 cost (c={conns})", f"{cost:.1f}", goal, cost <= TARGET_COST_1000)
        if l1000 and y1000:
            ratio = l1000["p99_ms"] / y1000["p99_ms"]
            goal = f"≤ {TARGET_P99_1000:g}"
            add(v, f"list-1000 c={conns} p99 ÷ yoga's", f"{ratio:.2f}", goal, ratio <= TARGET_P99_1000)
        # "The same speed-up" as list-100's; where yoga cannot serve a workload, ×floor beside
        # list-100's is the nearest comparison this run has.
        for name in ("fragment-100", "auth-devices"):
            to_yoga, to_floor = x(name, v, "yoga"), x(name, v, "floor")
            target = f"{name} c={conns} req/s ×yoga"
            if to_yoga is not None:
                than = f" (list-100: {x100:.2f})" if x100 is not None else ""
                add(v, target, f"{to_yoga:.2f}{than}", f"≥ {TARGET_X_YOGA:g}", to_yoga >= TARGET_X_YOGA)
            elif to_floor is not None:
                base = x("list-100", v, "floor")
                than = f" (list-100: ×floor {base:.4f})" if base is not None else ""
                add(v, target, f"×floor {to_floor:.4f}{than}", "yoga cannot serve it", None)
    # Counted once per workload on the stub; facade-local has no upstream to count.
    for r in rows:
        least = min_upstream_calls(r["workload"])
        if r["variant"] == "facade-upstream" and r["connections"] == conns and "upstream_calls" in r and least:
            calls, target = r["upstream_calls"], f"upstream calls per {r['workload']} query"
            add(r["variant"], target, str(calls), f"{least} (the minimum)", calls <= least)
    return out


def render_targets(found: Sequence[dict[str, Any]]) -> str:
    lines = ["| variant | target | measured | goal | verdict |", "|---|---|---|---|---|"]
    for t in found:
        lines.append(f"| {t['variant']} | {t['target']} | {t['measured']} | {t['goal']} | {_verdict(t['met'])} |")
    return "\n".join(lines)


SOAK_FLAT_MB = 5.0  # growth over the soak's second half below this, or below
SOAK_FLAT_FRACTION = 0.02  # this share of the RSS there, is "flat"


def slope_mb_per_min(samples: Sequence[Sequence[float]]) -> float:
    """Least-squares slope of (seconds, MB) samples, in MB per minute (0 without two times)."""
    n = len(samples)
    if n < 2:
        return 0.0
    mt = sum(t for t, _ in samples) / n
    mm = sum(mb for _, mb in samples) / n
    var = sum((t - mt) ** 2 for t, _ in samples)
    if var == 0:
        return 0.0
    return 60 * sum((t - mt) * (mb - mm) for t, mb in samples) / var


def soak_summary(samples: Sequence[Sequence[float]]) -> dict[str, Any]:
    """RSS at the start (after warm-up), end and max; the slope fitted over the second half and the
    growth it implies there; `flat` when that growth is below 5 MB or 2 % of the RSS."""
    if not samples:
        return {"verdict": "no samples"}
    t0, t1 = samples[0][0], samples[-1][0]
    half = [s for s in samples if s[0] >= t0 + (t1 - t0) / 2]
    slope = slope_mb_per_min(half)
    growth = slope * (half[-1][0] - half[0][0]) / 60
    flat = growth < max(SOAK_FLAT_MB, SOAK_FLAT_FRACTION * half[0][1])
    return {
        "rss_start_mb": samples[0][1],
        "rss_end_mb": samples[-1][1],
        "rss_max_mb": max(mb for _, mb in samples),
        "slope_mb_per_min": slope,
        "growth_mb": growth,
        "verdict": "flat" if flat else "growing",
    }


def render_soak(soaks: Sequence[dict[str, Any]]) -> str:
    lines = [
        "| variant | workload | conns | seconds | req/s | p99 ms | errors | RSS start MB | RSS end MB | RSS max MB "
        "| slope MB/min (2nd half) | growth MB (2nd half) | verdict |",
        "|" + "---|" * 13,
    ]
    for k in soaks:
        cells = [k["variant"], k["workload"], str(k["connections"]), str(k["seconds"]), _fmt(k.get("rps"))]
        cells += [_fmt(k.get("p99_ms"), 2), _fmt(int(k.get("errors", 0) + k.get("non2xx", 0)))]
        cells += [_fmt(k.get(f"rss_{x}_mb")) for x in ("start", "end", "max")]
        cells += [_fmt(k.get("slope_mb_per_min"), 2), _fmt(k.get("growth_mb"), 1), k["verdict"]]
        lines.append("| " + " | ".join(cells) + " |")
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
        found = self._status_mb("VmHWM")
        return max(found) if found else None

    def rss_mb(self) -> float | None:
        """The resident memory of the whole process group now (VmRSS, summed)."""
        found = self._status_mb("VmRSS")
        return sum(found) if found else None

    def _status_mb(self, key: str) -> list[float]:
        found = []
        for pid in _group(self.popen.pid):
            try:
                text = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            m = re.search(rf"{key}:\s+(\d+) kB", text)
            if m:
                found.append(int(m.group(1)) / 1024)
        return found


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
    soak: int
    connections: list[int]
    wrk_cpu: int | None
    server_cpu: int | None
    tmp: Path
    results: list[dict[str, Any]] = field(default_factory=list)
    soaks: list[dict[str, Any]] = field(default_factory=list)
    token: str | None = None  # alice's, from facade-local's `login`

    def headers(self, w: Workload) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if w.auth and self.token else {}


def wrk_cmd(s: Settings, url: str, script: Path, conns: int, seconds: int) -> list[str]:
    return pinned(
        ["wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--timeout", "30s", "--latency", "-s", str(script), url],
        s.wrk_cpu,
    )


def run_wrk(s: Settings, url: str, script: Path, conns: int, seconds: int) -> str:
    cmd = wrk_cmd(s, url, script, conns, seconds)
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
                **spread([r["rps"] for r in runs]),
                "runs_rps": [r["rps"] for r in runs],
                "runs_p99_ms": [r["p99_ms"] for r in runs],
                "upstream_calls": calls,
                "same": same,
            }
            row["peak_rss_mb"] = proc.peak_rss_mb()
            s.results.append(row)
            print(
                f"  {variant:16} {w.name:9} c={conns:<3} {best['rps']:10,.1f} req/s  "
                f"p50 {best['p50_ms']:8.2f} ms  p99 {best['p99_ms']:8.2f} ms  calls {calls}"
            )


def soak(s: Settings, variant: str, proc: Proc, url: str, w: Workload, conns: int = 32) -> dict[str, Any]:
    """One long wrk run on a fresh server, after a warm-up, with the server's RSS sampled every
    few seconds (`samples`: [seconds since the start, MB]) and summarised by `soak_summary`."""
    script = s.tmp / "soak.lua"
    script.write_text(wrk_script(w.body, s.headers(w)))
    run_wrk(s, url, script, conns, max(s.warmup, s.soak // 10))
    every = min(5.0, max(1.0, s.soak / 20))
    samples: list[list[float]] = []
    wrk = subprocess.Popen(wrk_cmd(s, url, script, conns, s.soak), stdout=subprocess.PIPE, text=True)
    start = time.monotonic()
    try:
        while True:
            mb = proc.rss_mb()
            if mb is not None:
                samples.append([round(time.monotonic() - start, 1), round(mb, 1)])
            try:
                out, _ = wrk.communicate(timeout=every)
                break
            except subprocess.TimeoutExpired:
                continue
    finally:
        if wrk.poll() is None:
            wrk.kill()
            wrk.wait()
    mb = proc.rss_mb()
    if mb is not None:
        samples.append([round(time.monotonic() - start, 1), round(mb, 1)])
    measured = parse_wrk(out)
    found = {"variant": variant, "workload": w.name, "connections": conns, "seconds": s.soak, **measured}
    found.update(soak_summary(samples), every_s=every, samples=samples)
    print(
        f"  {variant:16} soak {s.soak} s: {measured['rps']:,.1f} req/s, RSS {found.get('rss_start_mb')} -> "
        f"{found.get('rss_end_mb')} MB, {found.get('slope_mb_per_min', 0):+.2f} MB/min: {found['verdict']}"
    )
    return found


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
    parser.add_argument("--repeat", type=int, help="measurements per cell, the median kept (3; quick 1)")
    parser.add_argument(
        "--soak", type=int, default=0, help="then load list-100 at c=32 this many seconds on each facade, sampling RSS"
    )
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
        repeat=max(1, args.repeat or (1 if args.quick else 3)),
        soak=max(0, args.soak),
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
    base_env = {
        "FACADE_JWT_SECRET": SECRET,
        "FACADE_DATABASE_URL": db_url,
        "FACADE_SEED_ON_START": "false",
        # Throughput from one load generator, not a client: the rate limits would refuse most of it.
        "FACADE_RATE_LIMIT_PER_ADDRESS": "1000000000/minute",
        "FACADE_RATE_LIMIT_PER_PRINCIPAL": "1000000000/minute",
        # The list of 1,000 products with 3 reviews each costs 144,002 (3,000 review texts of up to
        # 40 kB: 120 MB at worst), past the default limit of 50 MB; the seeded texts are short.
        "FACADE_MAX_COST": "200000",
    }
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

        # The soak restarts each facade, so its memory is list-100's alone, not the table's.
        soaked = next(w for w in workloads(False) if w.name == "list-100")
        for name, cmd, env, _ in variants if s.soak else []:
            if name in FACADE and (not wanted or name in wanted):
                print(f"{name} soak:")
                with serving(ps, name, cmd, url(port), env) as proc:
                    s.soaks.append(soak(s, name, proc, url(port), soaked))
    finally:
        ps.stop_all()

    add_ratios(s.results)
    table = render_table(s.results)
    met = targets(s.results)
    if met:
        table += "\n\n## targets (issue 4), from this run's rows at 32 connections\n\n" + render_targets(met)
    if s.soaks:
        table += f"\n\n## memory under load: a {s.soak} s soak on a fresh server\n\n" + render_soak(s.soaks)
        table += "\n\n`flat`: the RSS grows less than 5 MB (or 2 %) over the second half, by a least-squares fit."
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    out = BENCH / "results"
    out.mkdir(exist_ok=True)
    meta = {
        "mode": "quick" if s.quick else "full",
        "duration_s": s.duration,
        "warmup_s": s.warmup,
        "repeat": s.repeat,
        "soak_s": s.soak,
        "pinned": s.server_cpu is not None,
        "cpus": os.cpu_count(),
        "stub_alone_rps": stub_alone["rps"],
        "python": sys.version.split()[0],
        "node": subprocess.run(["node", "--version"], capture_output=True, text=True, check=False).stdout.strip(),
        "elapsed_s": round(time.monotonic() - started, 1),
    }
    document = {"meta": meta, "rows": s.results, "targets": met, "soak": s.soaks}
    (out / f"{stamp}.json").write_text(json.dumps(document, indent=2))
    runs = f"median of {s.repeat} × {s.duration} s runs" if s.repeat > 1 else f"{s.duration} s runs"
    header = (
        f"# facade bench {stamp} ({meta['mode']}, {runs} after {s.warmup} s warm-up, "
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
