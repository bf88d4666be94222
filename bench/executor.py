"""What GraphQL execution alone costs per request: the compiled plan against Strawberry's standard
executor, on the same schema, document and data, with no HTTP and no backend time.

    python bench/executor.py [--sizes 10 100 1000] [--rounds 30]

Seeds a temporary local store, then for each list size runs the nested-products document once to
fill a request context's loaders, and times further executions on that context: every load is
then a cache hit, so what is measured is the executor (field collection, resolvers or plan,
completion) plus the loaders' cache lookups. The compiled and standard answers are compared
before timing. Prints ms per request and the ratio; then, as "fresh", the compiled path with new
loaders for every request, as the app runs it: the store's reads included, and the loaders'
bookkeeping.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import sys
import tempfile
import time
from pathlib import Path

from facade.auth import TokenService
from facade.backends.local import LocalStore
from facade.backends.local.seed import seed
from facade.context import Context
from facade.graph.compiled import CompiledExecutor
from facade.graph.schema import build_schema
from facade.loaders import Loaders
from facade.settings import Settings

QUERY = (Path(__file__).resolve().parents[1] / "playground" / "nested-products.graphql").read_text()


async def timed(run: object, rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        await run()  # type: ignore[operator]
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


async def main(sizes: list[int], rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp}/bench.db", max_page_size=1000, max_cost=200_000)
        store = await LocalStore.open(settings.database_url, TokenService(settings))
        await seed(store.engine, products=max(sizes) + 200)
        schema = build_schema(settings)
        compiled = CompiledExecutor(schema)
        standard = CompiledExecutor(schema, enabled=False)
        gc.collect()
        gc.freeze()
        gc.set_threshold(settings.gc_threshold, 20, 100)
        print(f"{'items':>6} {'compiled ms':>12} {'standard ms':>12} {'ratio':>6} {'fresh ms':>9}")
        for size in sizes:
            context = Context(settings=settings, backend=store, loaders=Loaders(store))
            variables = {"first": size}

            async def run(
                executor: CompiledExecutor, context: Context = context, variables: dict = variables
            ) -> object:
                return await executor.execute(
                    QUERY, variable_values=variables, context_value=context, operation_name=None
                )

            fast, slow = await run(compiled), await run(standard)
            assert not getattr(slow, "errors", None), slow.errors  # type: ignore[attr-defined]
            assert fast.data == slow.data, "compiled and standard answers differ"  # type: ignore[attr-defined]
            assert compiled.counts["compiled"] >= 1, compiled.counts
            c = await timed(lambda: run(compiled), rounds)
            s = await timed(lambda: run(standard), rounds)

            async def fresh(variables: dict = variables) -> object:
                context = Context(settings=settings, backend=store, loaders=Loaders(store))
                return await compiled.execute(
                    QUERY, variable_values=variables, context_value=context, operation_name=None
                )

            f = await timed(fresh, rounds)
            print(f"{size:>6} {c:>12.2f} {s:>12.2f} {s / c:>6.1f} {f:>9.2f}")
        await store.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    asyncio.run(main(args.sizes, args.rounds))
    sys.exit(0)
