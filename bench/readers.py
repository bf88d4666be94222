"""Micro-benchmark of the upstream readers: how long one FLECS product page (100 products, in
the shape bench/run.py's stub serves) takes to become records, and what reading a few fields
of each record then costs, in process, no HTTP.

    .venv/bin/python bench/readers.py [--products 100] [--repeat 2000]

Prints microseconds per page (minimum and median of the repeats) for: building the records,
building them and reading `id name price store{id name}` (flecs-100's selection), and building
them and reading every field.

With `--afosto`, the same for a page of Afosto search answers (`POST /odr/search/orders`,
`POST /lcs/search/locations`), made by the sandbox's emulation from the documented models, read
by the generated readers as the Afosto client reads them (every field, eagerly), with the cost
per item and per kB beside FLECS's.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).parent))

from facade.backends.upstream.flecs import payloads as p  # noqa: E402

FLECS_FIELDS = ("id", "name", "price")
STORE_FIELDS = ("id", "name")


def page(n: int) -> bytes:
    """A FLECS product page of `n` products exported from a freshly seeded store."""
    import os
    import subprocess

    from run import export  # bench/run.py's exporter: the stub's own data

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        env = {**os.environ, "FACADE_DATABASE_URL": f"sqlite+aiosqlite:///{db}"}
        facade = str(Path(sys.executable).parent / "facade")
        subprocess.run([facade, "db", "migrate"], check=True, env=env, capture_output=True)
        subprocess.run([facade, "db", "seed", "--products", str(n)], check=True, env=env, capture_output=True)
        export(db, Path(tmp) / "data.json")
        data = orjson.loads((Path(tmp) / "data.json").read_bytes())
    return orjson.dumps({"statusCode": 200, "data": {"page": 1, "totalPages": 1, "products": data["products"][:n]}})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--products", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=2000)
    parser.add_argument("--afosto", action="store_true", help="also time Afosto search pages")
    args = parser.parse_args()
    body = page(args.products)
    read = p.product_reader("FLECS Console")

    def build() -> None:
        [read(x) for x in orjson.loads(body)["data"]["products"]]

    def flecs() -> None:
        for r in [read(x) for x in orjson.loads(body)["data"]["products"]]:
            for f in FLECS_FIELDS:
                getattr(r, f)
            s = r.embedded_store
            for f in STORE_FIELDS:
                getattr(s, f)

    def everything() -> None:
        for r in [read(x) for x in orjson.loads(body)["data"]["products"]]:
            for f in type(r).model_fields:
                getattr(r, f)

    def decode() -> None:
        orjson.loads(body)

    print(f"{args.products} products, {len(body):,} bytes a page, {args.repeat} repeats; µs per page")
    for name, fn in (
        ("decode only", decode),
        ("build", build),
        ("build + flecs-100 fields", flecs),
        ("build + every field", everything),
    ):
        low, median = timed(fn, args.repeat)
        print(f"  {name:28} min {low:8.0f}   median {median:8.0f}")
    flecs_every = timed(everything, args.repeat)[1]
    per_item, per_kb = flecs_every / args.products, flecs_every / (len(body) / 1000)
    print(f"  FLECS, every field: {per_item:.1f} µs an item, {per_kb:.1f} µs a kB")
    if args.afosto:
        afosto(args.products, args.repeat)


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Minimum and median µs of `repeat` calls."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e6)
    return min(times), statistics.median(times)


def afosto(n: int, repeat: int) -> None:
    """Afosto search pages of `n` items, read as the Afosto client reads them."""
    from facade.backends.upstream.afosto import readers
    from facade.backends.upstream.afosto.generated import payloads
    from facade.sandbox.afosto import Afosto, conformed

    emulator = Afosto()
    for path in ("/odr/search/orders", "/lcs/search/locations"):
        spec = next(s for s in emulator.specs if s.op.path == path and s.op.method == "POST")
        cls = getattr(payloads, spec.op.payload or "")
        body = orjson.dumps(conformed(spec.op, [emulator.template(spec, i) for i in range(n)]))

        def read(body: bytes = body, cls: type = cls) -> None:
            readers.read_many(cls, orjson.loads(body))

        low, median = timed(read, repeat)
        print(
            f"Afosto POST {path}: {n} items, {len(body):,} bytes; decode + read every field: min {low:.0f} µs,"
            f" median {median:.0f} µs; {median / n:.1f} µs an item, {median / (len(body) / 1000):.1f} µs a kB"
        )


if __name__ == "__main__":
    main()
